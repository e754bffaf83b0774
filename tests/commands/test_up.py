"""`./postflow up`: the whole platform on embedded defaults (SQLite, Temporal dev server with a
SQLite file, blob dir), a first admin key shown once, Ctrl-C stopping every child, and state
surviving a restart. Runs `python -m commands up`, which is what ./postflow execs into."""

from __future__ import annotations

import asyncio
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers.processes import REPO, base_env, listen_port
from tests.helpers.smtp import send_raw, simple_message


def start_up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    fh = open(log, "wb")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "commands", "up"], env=env, cwd=REPO,  # noqa: S603
                            stdout=fh, stderr=subprocess.STDOUT)  # fmt: skip


def wait_banner(proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Press Ctrl-C to stop." in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"up exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.3)
    raise AssertionError(f"no banner within {timeout}s:\n{log.read_text()[-3000:]}")


def ports_closed(*ports: int) -> bool:
    import socket

    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return False
    return True


async def test_up_serves_mail_stops_cleanly_and_keeps_state(tmp_path: Path) -> None:
    ports = {k: listen_port() for k in ("API", "SMTP", "TEMPORAL", "TEMPORAL_UI")}
    env = base_env(
        POSTFLOW_DATA_DIR=str(tmp_path / "data"),
        POSTFLOW_LOG_LEVEL="WARNING",
        **{f"POSTFLOW_{k}_PORT": str(v) for k, v in ports.items()},
    )
    log = tmp_path / "up.log"
    proc = start_up(env, log)
    try:
        text = await asyncio.to_thread(wait_banner, proc, log)
        assert f"http://127.0.0.1:{ports['API']}/docs" in text
        assert f"http://127.0.0.1:{ports['TEMPORAL_UI']}" in text
        assert f"127.0.0.1:{ports['SMTP']}" in text
        key_file = tmp_path / "data" / "admin-key"
        key = key_file.read_text().strip()
        assert key in text  # printed once...
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # ...and kept private
        assert (tmp_path / "data" / "postflow.db").exists() and (tmp_path / "data" / "temporal.db").exists()

        base = f"http://127.0.0.1:{ports['API']}"
        h = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            assert (await http.get("/health")).json()["status"] == "ok"
            assert (await http.get("/docs/openapi.json")).json()["openapi"].startswith("3.1")
            inbox = (await http.post("/v1/inboxes", json={"local_part": "laptop"}, headers=h)).json()
            assert inbox["address"] == "laptop@postflow.local"
            await send_raw(ports["SMTP"], "a@example.com", [inbox["address"]],
                           simple_message(inbox["address"], subject="first boot"))  # fmt: skip
            for _ in range(200):
                data = (await http.get(f"/v1/inboxes/{inbox['id']}/messages", headers=h)).json()["data"]
                if data and data[0]["pipeline_state"] == "done":
                    break
                await asyncio.sleep(0.1)
            assert data and data[0]["subject"] == "first boot"
            # Semantic search across processes: the worker indexes, the API queries, through
            # the Chroma server `up` runs (embedded Chroma would not share the vectors).
            raw = simple_message(inbox["address"], subject="Invoice overdue",
                                 body="Your payment for the October invoice is three weeks late.")  # fmt: skip
            await send_raw(ports["SMTP"], "billing@example.com", [inbox["address"]], raw)
            hits: list[dict[str, object]] = []
            for _ in range(300):
                r = await http.get("/v1/search/messages", headers=h, params={
                    "q": "unpaid bill reminder", "inbox_id": inbox["id"], "mode": "semantic"})
                assert r.status_code == 200, r.text
                hits = r.json()["data"]
                if len(hits) == 2:  # both messages indexed: the paraphrase must rank the invoice first
                    break
                await asyncio.sleep(0.1)
            assert hits and hits[0]["subject"] == "Invoice overdue", hits
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(proc.wait, 60)
    assert code == 0, log.read_text()[-3000:]
    assert ports_closed(*ports.values()), "a child outlived Ctrl-C"

    # Restart on the same data dir: no new key printed, the inbox and its mail are still there.
    log2 = tmp_path / "up2.log"
    proc = start_up(env, log2)
    try:
        text = await asyncio.to_thread(wait_banner, proc, log2)
        assert key not in text and not re.search(r"pf_[A-Za-z0-9_-]{20,}", text)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            data = (await http.get(f"/v1/inboxes/{inbox['id']}/messages", headers=h)).json()["data"]
            assert [m["subject"] for m in data] == ["Invoice overdue", "first boot"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 60)
    assert code == 0
    assert ports_closed(*ports.values())
