"""Starting Postflow's real processes (`python -m commands ...`) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listen_port() -> int:
    """A free port below the kernel's ephemeral range (32768+ on Linux), for a process that
    binds it some seconds later: meanwhile other processes' outgoing connections and
    bind-to-0 listeners (the Temporal dev server's internal services, Chroma) take ephemeral
    ports, and could take a free_port() number first."""
    import random

    for _ in range(200):
        port = random.randint(20000, 32000)  # noqa: S311
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port between 20000 and 32000")


def base_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTFLOW_")}
    env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "ORT_DISABLE_TELEMETRY": "1"})
    env.update(overrides)
    return env


def service_env(settings: Any, data_dir: Path, api_port: int, smtp_port: int, **extra: str) -> dict[str, str]:
    """The environment of api/worker/ingress OS processes on the session's PostgreSQL database
    and Temporal, on a task queue of their own (only workers started with it run its work)."""
    import uuid

    return base_env(
        POSTFLOW_DATABASE_URL=settings.database_url,
        POSTFLOW_TEMPORAL_ADDRESS=settings.temporal_address,
        POSTFLOW_TASK_QUEUE=f"e2e-{uuid.uuid4().hex[:8]}",
        POSTFLOW_DATA_DIR=str(data_dir),
        POSTFLOW_MASTER_KEY="e2e-master-key-0123456789abcdef",
        POSTFLOW_API_PORT=str(api_port),
        POSTFLOW_SMTP_PORT=str(smtp_port),
        POSTFLOW_DNS_SERVERS=settings.dns_servers,
        POSTFLOW_LOG_LEVEL="WARNING",
        **extra,
    )


def spawn(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    fh = open(log, "wb")  # noqa: SIM115 (closed when the process is reaped)
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "commands", command], env=env, cwd=REPO, stdout=fh,
        stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"process {p.args} exited early with {p.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not healthy within {timeout}s")


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"port {port} not open within {timeout}s")


def stop(procs: list[subprocess.Popen[bytes]], sig: int = signal.SIGTERM, timeout: float = 20) -> list[int]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes


def spawn_workers(settings: Any, n: int, logdir: Path) -> list[subprocess.Popen[bytes]]:
    """`python -m commands worker` processes configured like the session's in-process worker."""
    assert settings.master_key is not None
    env = base_env(
        POSTFLOW_DATABASE_URL=settings.database_url,
        POSTFLOW_TEMPORAL_ADDRESS=settings.temporal_address,
        POSTFLOW_TASK_QUEUE=settings.task_queue,
        POSTFLOW_DATA_DIR=str(settings.data_dir),
        POSTFLOW_BLOB_DIR=str(settings.blobs_path),
        POSTFLOW_MASTER_KEY=settings.master_key.get_secret_value(),
        POSTFLOW_DNS_SERVERS=settings.dns_servers,
        POSTFLOW_LOG_LEVEL="WARNING",
    )
    return [spawn("worker", env, logdir / f"worker-{i}.log") for i in range(n)]
