"""PostgreSQL for the benchmarks: finding the server, connecting patiently, and creating and
dropping the per-benchmark databases (`postflow_bench_*`).

The server is shared with whatever else runs on the machine (test suites open many
connections), so connections are retried for a while when it answers "too many clients".
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from typing import Any

import psycopg

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"
PATIENCE = 60.0  # seconds to keep retrying a connection the server refuses
NEEDED = 50  # connections one benchmark's processes may open


def admin_url() -> tuple[str, Any]:
    """(admin URL, throwaway cluster or None): POSTFLOW_TEST_DATABASE_URL, else 127.0.0.1:5432,
    else (nothing listens there) a throwaway cluster, as the test suite finds its server."""
    env_url = os.environ.get("POSTFLOW_TEST_DATABASE_URL")
    if env_url:
        return env_url.replace("postgresql+psycopg://", "postgresql://"), None
    with socket.socket() as s:
        s.settimeout(1)
        listening = s.connect_ex(("127.0.0.1", 5432)) == 0
    if listening:
        return LOCAL, None
    from tests.helpers.postgres import Cluster

    cluster = Cluster()
    return cluster.url, cluster


def connect(url: str, patience: float = PATIENCE) -> psycopg.Connection[Any]:
    """An autocommit connection; retried while the server refuses (e.g. too many clients)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


async def aconnect(url: str, patience: float = PATIENCE) -> psycopg.AsyncConnection[Any]:
    import asyncio

    deadline = time.monotonic() + patience
    while True:
        try:
            return await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def create_database(admin: str) -> tuple[str, str]:
    """A new empty database; returns (its name, its plain postgresql:// URL)."""
    name = f"postflow_bench_{uuid.uuid4().hex[:12]}"
    with connect(admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{admin.rsplit('/', 1)[0]}/{name}"


def drop_database(admin: str, name: str) -> None:
    """Drop it (closing its connections); never raises, but says so when it could not."""
    try:
        with connect(admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:
        print(f"WARNING: could not drop database {name}: {exc}; drop it by hand", file=sys.stderr)


def wait_headroom(admin: str, needed: int = NEEDED, within: float = 60) -> None:
    """Wait (bounded) until `needed` connections are free: Postflow's processes open pools of
    up to 20 each and answer 451 or fail activities when the server refuses them."""
    deadline = time.monotonic() + within
    free = 0
    while time.monotonic() < deadline:
        with connect(admin) as conn:
            row = conn.execute(
                "SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity"
            ).fetchone()
        free = int(row[0]) if row else 0
        if free >= needed:
            return
        time.sleep(1)
    print(
        f"  WARNING: only {free} PostgreSQL connections free (want {needed}); results may "
        "include refused connections",
        file=sys.stderr,
    )


def backend_pids(admin: str, name: str) -> list[int]:
    """PostgreSQL server processes serving database `name` right now."""
    with connect(admin) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        return [int(r[0]) for r in rows.fetchall()]


def count(url: str, sql: str) -> int:
    """The single integer a `SELECT count(*) ...` returns."""
    with connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def server_facts(url: str) -> str:
    """Version and connection headroom (each benchmark needs roughly 50 connections)."""
    with connect(url, patience=10) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        used = conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()
        limit = conn.execute("SHOW max_connections").fetchone()
    text = f"PostgreSQL {version[0] if version else '?'}"
    if used and limit:
        text += f"; {used[0]} of max_connections={limit[0]} in use by others before we start"
    return text
