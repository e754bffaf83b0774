"""Postflow's MCP server: JSON-RPC framing, sessions, the tool registry and method dispatch."""
