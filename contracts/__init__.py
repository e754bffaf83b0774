"""Sandbox-safe contracts shared across processes: payload models, scopes and error codes.

Only the standard library and pydantic may be imported here; workflows import this package.
"""
