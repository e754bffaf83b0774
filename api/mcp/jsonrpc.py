"""JSON-RPC 2.0 framing for MCP: decoding a POST body into messages and building answers.

Pure: no I/O. A malformed message becomes a `RpcError` carrying the id we could recover (or
None), so the transport always answers with a JSON-RPC error and never with a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from contracts.mcp import INVALID_REQUEST, PARSE_ERROR

RequestId = str | int


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None, id_: RequestId | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data, self.id = code, message, data, id_


@dataclass
class Message:
    """One decoded client message: a request (id set), a notification, or a response."""

    method: str | None
    id: RequestId | None = None
    params: dict[str, Any] = field(default_factory=dict)
    is_response: bool = False

    @property
    def is_notification(self) -> bool:
        return self.method is not None and self.id is None


def decode_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RpcError(PARSE_ERROR, "Parse error: the body is not valid JSON") from exc


def _valid_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def to_message(raw: Any) -> Message:
    """Validate one JSON-RPC message; raises `RpcError(-32600)` naming what is wrong."""
    if not isinstance(raw, dict):
        raise RpcError(INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    rid = raw.get("id")
    recovered = rid if _valid_id(rid) else None
    if raw.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "Invalid Request: jsonrpc must be \"2.0\"", id_=recovered)
    if "method" not in raw:
        if ("result" in raw or "error" in raw) and _valid_id(rid):
            return Message(method=None, id=rid, is_response=True)
        raise RpcError(INVALID_REQUEST, "Invalid Request: method is required", id_=recovered)
    method = raw["method"]
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, "Invalid Request: method must be a non-empty string", id_=recovered)
    if "id" in raw and not _valid_id(rid):
        raise RpcError(INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
    params = raw.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcError(INVALID_REQUEST, "Invalid Request: params must be an object", id_=recovered)
    return Message(method=method, id=rid if "id" in raw else None, params=params)


def result(id_: RequestId | None, value: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "result": value}


def error(id_: RequestId | None, code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": id_, "error": err}


def error_of(exc: RpcError, id_: RequestId | None = None) -> dict[str, Any]:
    return error(exc.id if exc.id is not None else id_, exc.code, exc.message, exc.data)
