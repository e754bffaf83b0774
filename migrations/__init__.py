"""Alembic migrations for PostgreSQL and SQLite (batch mode), applied by `store.migrate`."""
