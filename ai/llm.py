"""The one place Postflow calls an LLM: litellm with its own retries off (Temporal owns
retries) and the bundled cost map (nothing is fetched at import). Imported only inside
activities and request handlers that need it, never by workflows."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from settings import Settings


class LLMNotConfigured(RuntimeError):
    """No `POSTFLOW_LLM_MODEL`: AI endpoints answer 503 llm_not_configured."""


class LLMBadAnswer(RuntimeError):
    """The model answered, but not with what was asked for (e.g. not JSON)."""


def configured(settings: Settings) -> bool:
    return bool(settings.llm_model)


def _litellm() -> Any:
    # Must be in the environment before litellm's first import, or it fetches the cost map.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


async def complete(
    settings: Settings, messages: list[dict[str, Any]], *, response_format: dict[str, Any] | None = None,
    max_tokens: int = 800,
) -> str:  # fmt: skip
    if not configured(settings):
        raise LLMNotConfigured("no LLM is configured (POSTFLOW_LLM_MODEL)")
    litellm = _litellm()
    kwargs: dict[str, Any] = {
        "model": settings.llm_model, "messages": messages, "timeout": settings.llm_timeout_seconds,
        "num_retries": 0, "max_tokens": max_tokens, "temperature": 0,
    }  # fmt: skip
    if settings.llm_api_base:
        kwargs["api_base"] = settings.llm_api_base
    if settings.llm_api_key is not None:
        kwargs["api_key"] = settings.llm_api_key.get_secret_value()
    elif settings.llm_api_base:
        kwargs["api_key"] = "unused"  # local OpenAI-compatible servers need no key, the client does
    if response_format is not None:
        kwargs["response_format"] = response_format
    resp = await litellm.acompletion(**kwargs)
    return str(resp.choices[0].message.content or "")


async def complete_json(
    settings: Settings, messages: list[dict[str, Any]], *, json_schema: dict[str, Any] | None = None,
    max_tokens: int = 1500,
) -> Any:  # fmt: skip
    """JSON mode (or structured output when a schema is given); the parsed value."""
    fmt: dict[str, Any] = {"type": "json_object"}
    if json_schema is not None:
        fmt = {"type": "json_schema", "json_schema": {"name": "extraction", "schema": json_schema}}
    content = await complete(settings, messages, response_format=fmt, max_tokens=max_tokens)
    return parse_json(content)


def parse_json(content: str) -> Any:
    text = content.strip()
    if text.startswith("```"):  # models like to fence JSON even in JSON mode
        text = text.strip("`")
        text = text[text.find("\n") + 1 :] if "\n" in text else text
        text = text.rsplit("```", 1)[0]
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LLMBadAnswer(f"the model did not answer JSON: {exc}") from exc


def email_for_prompt(subject: str, sender: str, body: str, limit: int = 12_000) -> str:
    """The message as untrusted data for a prompt, clearly delimited."""
    return (
        "<email>\n"
        f"From: {sender}\nSubject: {subject}\n\n{body[:limit]}\n"
        "</email>"
    )
