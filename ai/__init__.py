"""LLM features of the pipeline and API: the litellm call wrapper, structured extraction,
one-line summaries and prompt-injection screening (deterministic detectors + the LLM)."""
