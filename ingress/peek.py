"""A cheap look at a message's headers, so it is listable before the pipeline parses it."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any


def peek_headers(raw: bytes) -> dict[str, Any]:
    """Subject/From/Message-ID for the row. Never raises: hostile headers only cost the preview."""
    try:
        msg = BytesHeaderParser(policy=default_policy).parsebytes(raw[:65536])
        subject = " ".join(str(msg.get("subject", "") or "").split())
        name, email = next(iter(getaddresses([str(msg.get("from", "") or "")])), ("", ""))
        mid = str(msg.get("message-id", "") or "").strip().strip("<>") or None
        return {
            "subject": subject[:2000],
            "from_address": email[:320],
            "from_name": name[:300],
            "message_id_header": mid[:998] if mid else None,
        }
    except Exception:
        return {}
