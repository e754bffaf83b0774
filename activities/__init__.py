"""Temporal activities: every side effect of a workflow (database, blobs, SMTP, HTTP, LLM, DNS)."""
