"""The Litestar HTTP API: app factory, auth and scopes, one routes module per resource."""
