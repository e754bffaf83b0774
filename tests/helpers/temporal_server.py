"""A Temporal dev server of a test's own, as an OS process that can be stopped and restarted.

Started the way `commands/up.py` starts it (the venv's `temporal` CLI, a SQLite file with WAL),
so state survives a restart on the same file and port: that is what a fault test needs to
stop Temporal under running services and bring it back.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from temporalio.client import Client

from tests.helpers.processes import listen_port

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"


class TemporalDevServer:
    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        if not TEMPORAL_CLI.exists():
            raise AssertionError(f"Temporal CLI not found at {TEMPORAL_CLI}")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_file = workdir / "temporal.db"
        self.port = port or listen_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_path(self, n: int | None = None) -> Path:
        return self.workdir / f"temporal-{self.starts if n is None else n}.log"

    def start(self) -> None:
        """Start (or restart) on the same database file and frontend port."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        argv = [
            str(TEMPORAL_CLI), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(self.port),
            "--headless", "--ui-port", str(listen_port()),
            "--http-port", str(listen_port()), "--metrics-port", str(listen_port()),
            "--db-filename", str(self.db_file),
            "--sqlite-pragma", "journal_mode=wal",
            "--log-level", "warn",
        ]  # fmt: skip
        fh = open(self.log_path(), "wb")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT)  # noqa: S603
        fh.close()

    async def wait_ready(self, within: float = 60.0) -> None:
        """Until the frontend answers and the default namespace is usable."""
        assert self.proc is not None
        deadline = time.monotonic() + within
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"temporal exited with {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                client = await asyncio.wait_for(Client.connect(self.address), 5)
                await asyncio.wait_for(client.service_client.check_health(), 5)
                # The namespace is registered a moment after the frontend opens.
                await asyncio.wait_for(client.count_workflows(), 5)
                return
            except Exception as exc:  # not up yet
                last = exc
            await asyncio.sleep(0.3)
        raise AssertionError(f"temporal not ready within {within}s: {last!r}; {self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); the exit code, None if not running."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_tail(self, chars: int = 2000) -> str:
        path = self.log_path()
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""
