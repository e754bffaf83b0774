"""Finding a PostgreSQL server for the suite and making a fresh database per test run.

Order: POSTFLOW_TEST_DATABASE_URL, else 127.0.0.1:5432 as postgres (trust auth on our
machines), else a throwaway cluster via initdb/pg_ctl when they are installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except Exception:
        return False


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A throwaway cluster, started only when no server is reachable."""

    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError(
                "No PostgreSQL for the tests: set POSTFLOW_TEST_DATABASE_URL, run a server on "
                "127.0.0.1:5432 (user postgres, trust auth), or install PostgreSQL's initdb/pg_ctl."
            )
        self.pg_ctl = pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="postflow-pg-"))
        self.port = _free_port()
        subprocess.run([initdb, "-D", str(self.dir), "-U", "postgres", "-A", "trust"], check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run([pg_ctl, "-D", str(self.dir), "-w", "-o", f"-p {self.port} -k {self.dir}",
                        "-l", str(self.dir / "log"), "start"], check=True, capture_output=True)  # fmt: skip
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([self.pg_ctl, "-D", str(self.dir), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def admin_url() -> tuple[str, Cluster | None]:
    env_url = os.environ.get("POSTFLOW_TEST_DATABASE_URL")
    if env_url:
        return env_url.replace("postgresql+psycopg://", "postgresql://"), None
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if _reachable(local):
        return local, None
    cluster = Cluster()
    return cluster.url, cluster


def create_database(admin: str) -> tuple[str, str]:
    """A new, empty database; returns (its psycopg URL for SQLAlchemy, its name)."""
    name = f"postflow_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}", name


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
