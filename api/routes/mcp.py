"""The MCP endpoint (Streamable HTTP transport) at `/mcp`.

`POST /mcp` carries JSON-RPC: a 2025-revision client runs `initialize`, gets an
`Mcp-Session-Id` (stored, so any replica and a restarted API accept it; unknown or ended is a
404 and the client re-initializes) and sends it on every request; a 2026-revision client sends
no session and puts its version in `params._meta` on every request (`server/discover`).
Answers are single JSON responses (the server never pushes), so `GET /mcp` is 405.
`DELETE /mcp` ends a session. Same API keys as REST; needs scope `mcp.access`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, delete, get, post

from api.auth import Principal, requires
from api.errors import ApiError
from api.mcp import jsonrpc
from api.mcp import session as sessions
from api.mcp.jsonrpc import Message, RpcError
from api.mcp.registry import ToolContext
from api.mcp.server import Era, dispatch, initialize
from contracts import errors
from contracts.mcp import (
    BATCH_VERSIONS,
    HANDSHAKE_VERSIONS,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    META_CLIENT_CAPABILITIES,
    META_PROTOCOL_VERSION,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    UNSUPPORTED_PROTOCOL_VERSION,
)

SESSION_HEADER = "Mcp-Session-Id"
# The 2026 revision maps JSON-RPC errors onto HTTP statuses; 2025 sessions answer them with 200.
_MODERN_STATUS = {INVALID_PARAMS: 400, INVALID_REQUEST: 400, HEADER_MISMATCH: 400,
                  UNSUPPORTED_PROTOCOL_VERSION: 400, METHOD_NOT_FOUND: 404, -32700: 400}  # fmt: skip


class HttpRpcError(RpcError):
    def __init__(self, status: int, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message, data)
        self.status = status


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _context(request: Request[Principal, Any, Any]) -> ToolContext:
    st = request.app.state
    return ToolContext(principal=request.user, sessionmaker=st.sessionmaker, temporal=st.temporal,
                       settings=st.settings, blobs=st.blobs, handoff=st.handoff, channel="mcp")  # fmt: skip


def _check_origin(request: Request[Any, Any, Any]) -> None:
    """DNS-rebinding guard the transport asks for: a browser Origin must be this server."""
    origin = request.headers.get("origin")
    if not origin:
        return
    allowed = {request.headers.get("host", ""), urlsplit(request.app.state.settings.public_url).netloc}
    parsed = urlsplit(origin)
    # Local tools (e.g. the MCP Inspector in a browser on this machine) still need the API key.
    if parsed.netloc not in allowed and parsed.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ApiError(403, errors.FORBIDDEN, "this Origin may not use the MCP endpoint",
                       [{"field": "Origin", "message": "not this server"}])  # fmt: skip


def _modern_era(request: Request[Any, Any, Any], msg: Message) -> Era | None:
    meta = msg.params.get("_meta")
    header = request.headers.get("mcp-protocol-version")
    if not (isinstance(meta, dict) and META_PROTOCOL_VERSION in meta) and header not in MODERN_VERSIONS:
        return None
    if not isinstance(meta, dict) or META_PROTOCOL_VERSION not in meta or META_CLIENT_CAPABILITIES not in meta:
        raise HttpRpcError(400, INVALID_PARAMS, f"params._meta must carry {META_PROTOCOL_VERSION!r} "
                           f"and {META_CLIENT_CAPABILITIES!r}")  # fmt: skip
    version = meta[META_PROTOCOL_VERSION]
    if header != version:
        raise HttpRpcError(400, HEADER_MISMATCH, "MCP-Protocol-Version header does not match params._meta")
    method_header = request.headers.get("mcp-method")
    if method_header is not None and method_header != msg.method:
        raise HttpRpcError(400, HEADER_MISMATCH, "Mcp-Method header does not match the method")
    if version not in MODERN_VERSIONS:
        raise HttpRpcError(400, UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version",
                           {"supported": [*MODERN_VERSIONS, *HANDSHAKE_VERSIONS], "requested": str(version)})  # fmt: skip
    return Era(version=version, modern=True)


async def _session_era(request: Request[Any, Any, Any], ctx: ToolContext) -> Era:
    sid = request.headers.get("mcp-session-id")
    if not sid:
        raise HttpRpcError(400, INVALID_REQUEST, f"{SESSION_HEADER} header required: call initialize "
                           "first (or send a 2026-07-28 request with params._meta)")  # fmt: skip
    async with ctx.sessionmaker() as db:
        row = await sessions.find(db, ctx.principal, sid)
    if row is None:
        raise HttpRpcError(404, INVALID_REQUEST, "Session not found: initialize a new session")
    header = request.headers.get("mcp-protocol-version")
    if header is not None and header not in HANDSHAKE_VERSIONS:
        raise HttpRpcError(400, INVALID_REQUEST, f"Unsupported MCP-Protocol-Version {header[:40]!r}")
    return Era(version=row.protocol_version, modern=False)


async def _answer(ctx: ToolContext, msg: Message, era: Era) -> dict[str, Any] | None:
    """The response to one message (None for notifications and client responses)."""
    if msg.is_response or msg.is_notification:
        return None
    try:
        return jsonrpc.result(msg.id, await dispatch(ctx, msg, era))
    except RpcError as exc:
        return jsonrpc.error_of(exc, msg.id)


async def _batch(request: Request[Any, Any, Any], ctx: ToolContext, raw: list[Any]) -> Response[Any]:
    if not raw:
        return _json(jsonrpc.error(None, INVALID_REQUEST, "Invalid Request: empty batch"), 400)
    era = await _session_era(request, ctx)
    if era.version not in BATCH_VERSIONS:
        return _json(jsonrpc.error(None, INVALID_REQUEST, f"Invalid Request: protocol version {era.version} "
                                   "does not allow JSON-RPC batches; send one message per request"), 400)  # fmt: skip
    answers: list[dict[str, Any]] = []
    for item in raw:
        try:
            msg = jsonrpc.to_message(item)
            if msg.method == "initialize":
                raise RpcError(INVALID_REQUEST, "Invalid Request: initialize cannot be batched", id_=msg.id)
        except RpcError as exc:
            answers.append(jsonrpc.error_of(exc))
            continue
        if (answer := await _answer(ctx, msg, era)) is not None:
            answers.append(answer)
    return _json(answers) if answers else Response(b"", status_code=202)


async def _single(request: Request[Any, Any, Any], ctx: ToolContext, raw: Any) -> Response[Any]:
    msg = jsonrpc.to_message(raw)
    if msg.is_response:
        return Response(b"", status_code=202)
    if msg.method == "initialize" and _modern_era(request, msg) is None:
        if msg.id is None:
            raise HttpRpcError(400, INVALID_REQUEST, "Invalid Request: initialize must be a request (with an id)")
        result, sid = await initialize(ctx, msg)
        return _json(jsonrpc.result(msg.id, result), headers={SESSION_HEADER: sid})
    era = _modern_era(request, msg) or await _session_era(request, ctx)
    answer = await _answer(ctx, msg, era)
    if answer is None:
        return Response(b"", status_code=202)
    status = _MODERN_STATUS.get(answer["error"]["code"], 200) if era.modern and "error" in answer else 200
    return _json(answer, status)


# Not in the OpenAPI document: MCP is JSON-RPC whose contract (and error shape) is the MCP
# specification; /llms.txt and /v1/skill.md describe it, `GET /v1/capabilities` lists its tools.
@post("/mcp", guards=[requires("mcp.access")], tags=["mcp"], status_code=200, include_in_schema=False,
      summary="MCP Streamable HTTP endpoint (JSON-RPC 2.0)")  # fmt: skip
async def mcp_post(request: Request[Principal, Any, Any]) -> Response[Any]:
    _check_origin(request)
    ctx = _context(request)
    try:
        raw = jsonrpc.decode_body(await request.body())
        if isinstance(raw, list):
            return await _batch(request, ctx, raw)
        return await _single(request, ctx, raw)
    except HttpRpcError as exc:
        return _json(jsonrpc.error_of(exc), exc.status)
    except RpcError as exc:
        return _json(jsonrpc.error_of(exc), 400)


@get("/mcp", guards=[requires("mcp.access")], tags=["mcp"], status_code=405, include_in_schema=False,
     summary="No server-initiated stream: 405 (responses come on the POST)")  # fmt: skip
async def mcp_get() -> Response[Any]:
    return Response({"status": 405, "code": "method_not_allowed", "message": "this server does not "
                     "open a server-to-client stream; POST JSON-RPC messages", "details": []},
                    status_code=405, headers={"Allow": "POST, DELETE"})  # fmt: skip


@delete("/mcp", guards=[requires("mcp.access")], tags=["mcp"], status_code=204, include_in_schema=False,
        summary="End an MCP session")
async def mcp_delete(request: Request[Principal, Any, Any]) -> None:
    sid = request.headers.get("mcp-session-id")
    if not sid:
        raise ApiError(400, errors.BAD_REQUEST, f"{SESSION_HEADER} header required",
                       [{"field": SESSION_HEADER, "message": "required"}])  # fmt: skip
    async with request.app.state.sessionmaker.begin() as db:
        if not await sessions.end(db, request.user, sid):
            raise ApiError(404, errors.NOT_FOUND, "session not found", [{"field": SESSION_HEADER, "message": "unknown"}])
