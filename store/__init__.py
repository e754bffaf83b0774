"""Persistence: SQLAlchemy models, the engine, and the query/command functions.

The only package that emits SQL. Every function takes an `AsyncSession` (or sessionmaker)
and, for tenant data, a `TenantScope`, so tenancy is enforced in the query itself.
"""
