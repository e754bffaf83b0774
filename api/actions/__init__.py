"""Operations shared by the REST routes and the MCP tools (one code path for both)."""
