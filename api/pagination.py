"""Cursor pagination for list endpoints: `limit` + opaque `cursor` -> data/next_cursor/has_more."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from api.errors import ApiError
from contracts import errors
from store.pagination import Page

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


class ListResponse(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None
    has_more: bool


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        value = base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(
            400, errors.VALIDATION_ERROR, "invalid cursor", [{"field": "cursor", "message": "invalid"}]
        ) from exc
    # Printable ASCII only: a NUL or control character would reach the id comparison in SQL.
    if not value.isascii() or not value.isprintable() or len(value) > 64 or "_" not in value:
        raise ApiError(
            400, errors.VALIDATION_ERROR, "invalid cursor", [{"field": "cursor", "message": "invalid"}]
        )
    return value


def encode_cursor(after: str | None) -> str | None:
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=") if after else None


def to_list_response(page: Page[Any], render: Any) -> dict[str, Any]:
    return {
        "data": [render(item) for item in page.items],
        "next_cursor": encode_cursor(page.next_after),
        "has_more": page.next_after is not None,
    }
