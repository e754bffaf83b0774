"""MCP protocol constants: the revisions we speak and the JSON-RPC error codes we answer."""

from __future__ import annotations

# Revisions reached through the `initialize` handshake (Mcp-Session-Id sessions), newest first.
HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
# Stateless revisions: every request carries its version and capabilities in `params._meta`.
MODERN_VERSIONS = ("2026-07-28",)
# JSON-RPC batches exist only in 2025-03-26 (2025-06-18 removed them).
BATCH_VERSIONS = frozenset({"2025-03-26"})

META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HEADER_MISMATCH = -32020
UNSUPPORTED_PROTOCOL_VERSION = -32022

SERVER_NAME = "postflow"
SERVER_VERSION = "0.1.0"
INSTRUCTIONS = (
    "Postflow gives you real email inboxes. List inboxes, read threads and messages, wait for "
    "the next message or one-time code, label mail, and (with the scopes) send, reply and "
    "forward. Tools you do not see need a scope your API key lacks."
)
