"""SSRF-safe outbound HTTP for user-supplied URLs (webhooks): policy, resolution, the request.

`check_url(url, settings)` validates a URL when it is saved; `post(...)` sends to it, checking
the addresses the host resolves to on every call and connecting only to a checked address.
"""

from egress.client import EgressError, EgressResponse, post, retry_after_seconds
from egress.policy import UnsafeTarget, check_url, refusal
from egress.resolve import Resolve, ResolveError

__all__ = [
    "EgressError",
    "EgressResponse",
    "Resolve",
    "ResolveError",
    "UnsafeTarget",
    "check_url",
    "post",
    "refusal",
    "retry_after_seconds",
]
