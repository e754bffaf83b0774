"""Discovery for agents: `GET /llms.txt` and `GET /v1/skill.md`, generated from the app's own
OpenAPI document, routes and MCP tool registry at request time, so they never drift; plus the
`mcp`/`agent_chat` part of `GET /v1/capabilities`."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, get
from litestar.response import Response
from litestar.routes import HTTPRoute

from api.mcp.catalogue import TOOLS
from contracts.mcp import HANDSHAKE_VERSIONS, MODERN_VERSIONS
from settings import Settings

_METHODS = ("get", "post", "put", "patch", "delete")


def agent_capabilities(settings: Settings) -> dict[str, Any]:
    return {
        "mcp": {
            "endpoint": "/mcp", "transport": "streamable-http",
            "protocol_versions": [*MODERN_VERSIONS, *HANDSHAKE_VERSIONS], "requires_scope": "mcp.access",
            "tools": [{"name": t.name, "title": t.title, "scopes": list(t.scopes), "read_only": t.read_only,
                       "destructive": t.destructive} for t in TOOLS.values()],
        },
        "agent_chat": {"endpoint": "/v1/chat", "enabled": bool(settings.llm_model), "requires_scope": "agent.run",
                       "confirmation": "side-effecting tools wait for POST /v1/chat/{run_id}/confirm"},
    }  # fmt: skip


def _scopes(app: Litestar) -> dict[tuple[str, str], list[str]]:
    """(METHOD, path) → the scopes its `requires(...)` guard accepts (read from the guard)."""
    out: dict[tuple[str, str], list[str]] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for wrapped in handler.resolve_guards():
                guard = getattr(wrapped, "func", wrapped)  # Litestar wraps sync guards
                code = getattr(guard, "__code__", None)
                cells = dict(zip(code.co_freevars, guard.__closure__ or (), strict=False)) if code else {}
                if "any_of" in cells:
                    for method in handler.http_methods:
                        out[(method, route.path_format)] = list(cells["any_of"].cell_contents)
    return out


def _operations(app: Litestar) -> list[dict[str, Any]]:
    schema = app.openapi_schema.to_schema()
    scopes = _scopes(app)
    ops = []
    for path, item in schema["paths"].items():
        for method in _METHODS:
            if (op := item.get(method)) is None:
                continue
            params = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ref = body.get("$ref", "").rpartition("/")[2]
            fields = list(schema["components"]["schemas"].get(ref, {}).get("properties", {})) if ref else []
            ops.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                        "tag": (op.get("tags") or ["other"])[0], "query": params, "body": fields,
                        "scopes": scopes.get((method.upper(), path), [])})  # fmt: skip
    return ops


def _op_line(op: dict[str, Any]) -> str:
    extra = []
    if op["scopes"]:
        extra.append("scope " + " or ".join(op["scopes"]))
    if op["query"]:
        extra.append("query " + ", ".join(op["query"]))
    if op["body"]:
        extra.append("body " + ", ".join(op["body"]))
    return f"- `{op['method']} {op['path']}`: {op['summary']}" + (f" ({'; '.join(extra)})" if extra else "")


def _tool_lines() -> list[str]:
    return [f"- `{t.name}`: {t.description} (scope {' or '.join(t.scopes)}"
            f"{'; read-only' if t.read_only else '; changes things'})" for t in TOOLS.values()]  # fmt: skip


def _base(request: Request[Any, Any, Any]) -> str:
    return str(request.app.state.settings.public_url).rstrip("/")


@get("/llms.txt", exclude_from_auth=True, include_in_schema=False, media_type="text/plain")
async def llms_txt(request: Request[Any, Any, Any]) -> Response[str]:
    app, base = request.app, _base(request)
    info = app.openapi_schema.info
    lines = [f"# {info.title}", "", f"> {info.description}", "",
             f"Authenticate every request with `Authorization: Bearer <API key>`. Base URL {base}. "
             "Errors are `{status, code, message, details}`; lists are cursor-paginated.", "",
             "## Docs", "", f"- [Agent skill (curl recipes and every endpoint)]({base}/v1/skill.md)",
             f"- [OpenAPI 3.1 document]({base}/docs/openapi.json)", f"- [Interactive docs]({base}/docs)", "",
             "## MCP", "", f"Streamable HTTP at `{base}/mcp` (scope mcp.access). Tools:", "", *_tool_lines(), ""]  # fmt: skip
    by_tag: dict[str, list[str]] = {}
    for op in _operations(app):
        by_tag.setdefault(op["tag"], []).append(_op_line(op))
    for tag, ops in by_tag.items():
        lines += [f"## {tag}", "", *ops, ""]
    return Response("\n".join(lines), media_type="text/plain")


SKILL_HEAD = """---
name: postflow
description: Use Postflow email inboxes from an agent - create inboxes, read and wait for mail and one-time codes, search, send/reply/forward, and talk to Postflow's own agent - over its REST API with curl, or connect over MCP.
---

# Postflow

Set `PF={base}` and `KEY=<your API key>` (shown once when the key is created).

```sh
H="Authorization: Bearer $KEY"
curl -s -X POST $PF/v1/inboxes -H "$H" -H 'content-type: application/json' -d '{{"name": "signup bot"}}'
curl -s "$PF/v1/inboxes/$INBOX/otp?timeout=120" -H "$H"              # block until a one-time code arrives
curl -s "$PF/v1/threads?inbox_id=$INBOX" -H "$H"                     # conversations
curl -s -X POST $PF/v1/messages/send -H "$H" -H 'content-type: application/json' \\
     -d '{{"inbox_id": "'$INBOX'", "to": "someone@example.com", "subject": "Hi", "text": "Hello"}}'
curl -s -X POST $PF/v1/chat -H "$H" -H 'content-type: application/json' \\
     -d '{{"inbox_id": "'$INBOX'", "message": "Summarise unread mail"}}'   # then GET /v1/chat/<run_id>?wait=30
```

Rules: bad input answers 4xx naming the field; another organization's resource is a 404;
a missing scope is a 403. Side effects asked of the agent chat wait for
`POST /v1/chat/<run_id>/confirm`. MCP clients connect to `{base}/mcp` with the same key
(scope `mcp.access`).

## MCP tools

"""


@get("/v1/skill.md", exclude_from_auth=True, tags=["system"], media_type="text/markdown",
     summary="How an agent uses Postflow (generated from the OpenAPI document)")  # fmt: skip
async def skill_md(request: Request[Any, Any, Any]) -> Response[str]:
    lines = [SKILL_HEAD.format(base=_base(request)), *_tool_lines(), "", "## Endpoints", ""]
    lines += [_op_line(op) for op in _operations(request.app)]
    return Response("\n".join(lines) + "\n", media_type="text/markdown")
