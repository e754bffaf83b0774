"""A cheap look at a message's headers, so it is listable before the pipeline parses it.

compat32 header parsing plus RFC 2047 decoding of just Subject and From: a third of the CPU of
the `default` policy, which parses every header's structure. The pipeline replaces these values
with the full parse moments later.
"""

from __future__ import annotations

from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any


def _decoded(value: Any) -> str:
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # a malformed encoded word: keep the raw text
        return str(value)


def peek_headers(raw: bytes) -> dict[str, Any]:
    """Subject/From/Message-ID for the row. Never raises: hostile headers only cost the preview."""
    try:
        msg = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536])
        subject = " ".join(_decoded(msg.get("subject")).split())
        name, email = next(iter(getaddresses([_decoded(msg.get("from"))])), ("", ""))
        mid = "".join(str(msg.get("message-id", "") or "").split()).strip("<>") or None
        return {
            "subject": subject[:2000],
            "from_address": email[:320],
            "from_name": name[:300],
            "message_id_header": mid[:998] if mid else None,
        }
    except Exception:
        return {}
