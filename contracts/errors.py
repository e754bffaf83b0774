"""Machine-readable error codes: the `code` of API errors and the `type` of ApplicationErrors."""

from __future__ import annotations

BAD_REQUEST = "bad_request"
VALIDATION_ERROR = "validation_error"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
CONFLICT = "conflict"
PAYLOAD_TOO_LARGE = "payload_too_large"
UNAVAILABLE = "service_unavailable"
INTERNAL = "internal_error"
PERMANENT_PARSE_FAILURE = "permanent_parse_failure"
LLM_NOT_CONFIGURED = "llm_not_configured"
