"""Faults under real processes: a worker killed mid-pipeline, Temporal stopped while mail
arrives. api, ingress and worker run as OS processes (`python -m commands ...`) on a task queue
of their own; the Temporal outage test also runs a Temporal dev server of its own (SQLite file),
so stopping it disturbs no other test.

Each test has a database of its own on the session's PostgreSQL server. The session's ingress
reconciles every `pending` row of the session database onto the session's Temporal and task
queue: mail accepted here while Temporal is down would be started there, by a worker that cannot
read this test's blobs. One database per deployment, as in production.

"Exactly once" is checked where a duplicate would show: one message row per accepted message,
one workflow run per message, one `message.received` event per message, one thread per
conversation with one `thread.created` event and the right message count.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus

from settings import Settings
from store.models import Event, Message, Thread
from tests.conftest import Tenant, create_inbox
from tests.helpers import postgres
from tests.helpers.activity_failures import ActivityFailures
from tests.helpers.eventually import eventually
from tests.helpers.processes import base_env, listen_port, spawn, stop, wait_http, wait_port
from tests.helpers.smtp import send_raw, simple_message
from tests.helpers.temporal_server import TemporalDevServer

MASTER_KEY = "e2e-master-key-0123456789abcdef"


@dataclass
class Deployment:
    """One Postflow deployment's database: migrated and bootstrapped, as `up` leaves it."""

    database_url: str
    superadmin_key: str
    sessionmaker: Any  # for assertions about what the processes stored


@pytest.fixture
async def deployment(pg: tuple[str, str], settings: Settings) -> AsyncIterator[Deployment]:
    from commands.services import bootstrap_async
    from store.engine import create_engine, create_sessionmaker

    url, name = await asyncio.to_thread(postgres.create_database, pg[0])
    own = settings.model_copy(update={"database_url": url})
    key = await bootstrap_async(own)
    assert key is not None
    engine = create_engine(own)
    try:
        yield Deployment(url, key, create_sessionmaker(engine))
    finally:
        await engine.dispose()
        await asyncio.to_thread(postgres.drop_database, pg[0], name)


def process_env(
    database_url: str, tmp_path: Path, temporal_address: str, dns_port: int, **extra: str
) -> dict[str, str]:
    return base_env(
        POSTFLOW_DATABASE_URL=database_url,
        POSTFLOW_TEMPORAL_ADDRESS=temporal_address,
        # Its own task queue: only the worker processes started here run these pipelines.
        POSTFLOW_TASK_QUEUE=f"e2e-{uuid.uuid4().hex[:8]}",
        # One data dir for all processes: the worker reads the blobs the ingress wrote.
        POSTFLOW_DATA_DIR=str(tmp_path / "data"),
        POSTFLOW_MASTER_KEY=MASTER_KEY,
        # SPF/DKIM/DMARC lookups go to the session's loopback DNS, never to the internet.
        POSTFLOW_DNS_SERVERS=f"127.0.0.1:{dns_port}",
        POSTFLOW_LOG_LEVEL="WARNING",
        **extra,
    )


def log_tails(tmp_path: Path, names: list[str], chars: int = 3000) -> str:
    """Why it failed: the activity failures the workers logged, then each log's tail."""
    failures = ActivityFailures()
    failures.read_logs([tmp_path / f"{name}.log" for name in names if "worker" in name])
    out = [f"activity failures in the worker logs: {failures.summary()}"]
    for name in names:
        path = tmp_path / f"{name}.log"
        text = path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"
        out.append(f"--- {name}.log ---\n{text}")
    return "\n".join(out)


async def tenant_with_inbox(
    http: httpx.AsyncClient, superadmin_key: str, prefix: str
) -> tuple[Tenant, dict[str, Any]]:
    su = {"Authorization": f"Bearer {superadmin_key}"}
    r = await http.post("/v1/orgs", json={"name": prefix.title()}, headers=su)
    assert r.status_code == 201, r.text
    tenant = Tenant(org_id=r.json()["organization"]["id"], key=r.json()["api_key"])
    inbox = await create_inbox(http, tenant, local_part=f"{prefix}-{uuid.uuid4().hex[:6]}")
    return tenant, inbox


async def send_all(port: int, rcpt: str, subjects: list[str]) -> list[str]:
    """Send one message per subject (a connection each, 10 at a time); the ids from the 250s."""
    limit = asyncio.Semaphore(10)

    async def one(subject: str) -> str:
        async with limit:
            raw = simple_message(rcpt, subject=subject, body=f"body of {subject}",
                                 mid=f"{uuid.uuid4().hex}@sender.test")  # fmt: skip
            _, reply = await send_raw(port, "sender@sender.test", [rcpt], raw)
        assert reply.startswith("2.0.0 OK: queued as "), reply
        return reply.rsplit(" ", 1)[-1]

    return list(await asyncio.gather(*(one(s) for s in subjects)))


async def rows_of(sessionmaker: Any, inbox_id: str) -> list[Message]:
    async with sessionmaker() as s:
        return list((await s.scalars(select(Message).where(Message.inbox_id == inbox_id))).all())


async def assert_processed_exactly_once(
    sessionmaker: Any, client: Client, inbox_id: str, ids: list[str], queue: str
) -> None:
    rows = await rows_of(sessionmaker, inbox_id)
    assert sorted(m.id for m in rows) == sorted(ids), "one message row per accepted message"
    assert {m.pipeline_state for m in rows} == {"done"}
    assert all(m.workflow_id == f"InboundMail/{m.id}" for m in rows)

    async with sessionmaker() as s:
        received = Counter(
            (await s.scalars(
                select(Event.resource_id).where(Event.type == "message.received",
                                                Event.resource_id.in_(ids))
            )).all()
        )  # fmt: skip
        thread_ids = {m.thread_id for m in rows}
        threads = list((await s.scalars(select(Thread).where(Thread.inbox_id == inbox_id))).all())
        created = Counter(
            (await s.scalars(
                select(Event.resource_id).where(Event.type == "thread.created",
                                                Event.resource_id.in_(thread_ids))
            )).all()
        )  # fmt: skip
    assert received == Counter(ids), f"message.received per message: {received}"
    # Distinct subjects, no references: every message opens its own thread, exactly once.
    assert None not in thread_ids and len(thread_ids) == len(ids)
    assert {t.id for t in threads} == thread_ids, "a retried step opened an extra thread"
    assert all(t.message_count == 1 for t in threads), [(t.id, t.message_count) for t in threads]
    assert created == Counter(thread_ids), f"thread.created per thread: {created}"

    # One workflow run per message, completed: a retried start never ran a second pipeline.
    async def runs() -> Counter[str] | None:
        found: Counter[str] = Counter()
        async for wf in client.list_workflows(f"TaskQueue = '{queue}'"):
            if wf.workflow_type == "InboundMail":
                assert wf.status == WorkflowExecutionStatus.COMPLETED, (wf.id, wf.status)
                found[wf.id] += 1
        # Visibility is eventually consistent: wait until every run is listed.
        return found if set(found) == {f"InboundMail/{i}" for i in ids} else None

    found = await eventually(runs, timeout=20, interval=0.5)
    assert found is not None
    assert set(found.values()) == {1}, (
        f"more than one run for {[k for k, v in found.items() if v > 1]}"
    )


async def test_pipeline_resumes_exactly_once_when_worker_is_killed_mid_pipeline(
    deployment: Deployment, settings: Settings, session_dns: Any, temporal_env: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    api_port, smtp_port = listen_port(), listen_port()
    env = process_env(
        deployment.database_url, tmp_path, settings.temporal_address, session_dns.port,
        POSTFLOW_API_PORT=str(api_port), POSTFLOW_SMTP_PORT=str(smtp_port),
    )  # fmt: skip
    queue = env["POSTFLOW_TASK_QUEUE"]
    services = [spawn(name, env, tmp_path / f"{name}.log") for name in ("api", "ingress")]
    worker = spawn("worker", env, tmp_path / "worker.log")
    new_worker: subprocess.Popen[bytes] | None = None
    names = ["api", "ingress", "worker", "worker2"]
    try:
        base = f"http://127.0.0.1:{api_port}"
        await asyncio.to_thread(wait_http, f"{base}/health", [*services, worker], 90)
        await asyncio.to_thread(wait_port, smtp_port, 90)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            tenant, inbox = await tenant_with_inbox(http, deployment.superadmin_key, "kill")

            started = time.monotonic()
            ids = await send_all(smtp_port, inbox["address"], [f"kill test {i}" for i in range(30)])
            assert len(set(ids)) == 30

            async def states() -> dict[str, str]:
                r = await http.get(f"/v1/inboxes/{inbox['id']}/messages", params={"limit": 100},
                                   headers=tenant.headers)  # fmt: skip
                assert r.status_code == 200, r.text
                return {m["id"]: m["pipeline_state"] for m in r.json()["data"]}

            async def first_processed() -> dict[str, str] | None:
                assert worker.poll() is None, "the worker died on its own"
                now = await states()
                return now if any(s in ("processed", "done") for s in now.values()) else None

            try:
                at_kill = await eventually(first_processed, timeout=60, interval=0.02)
            except AssertionError as exc:
                raise AssertionError(
                    f"no pipeline got past `process` in 60s: {Counter((await states()).values())}\n"
                    + log_tails(tmp_path, names)
                ) from exc
            assert at_kill is not None
            worker.send_signal(signal.SIGKILL)
            assert worker.wait(10) == -signal.SIGKILL
            progress = Counter(at_kill.values())
            print(f"\nworker SIGKILLed {time.monotonic() - started:.1f}s after the first send; "
                  f"states then: {dict(progress)}")  # fmt: skip
            # The kill must land mid-pipeline, or the test proves nothing.
            assert progress["done"] < 30, "every pipeline finished before the kill"

            new_worker = spawn("worker", env, tmp_path / "worker2.log")
            restarted = time.monotonic()

            async def all_done() -> bool:
                assert new_worker is not None and new_worker.poll() is None, "new worker died"
                now = await states()
                return len(now) == 30 and set(now.values()) == {"done"}

            try:
                await eventually(all_done, timeout=75, interval=0.25)
            except AssertionError as exc:
                raise AssertionError(
                    f"not done after the restart: {Counter((await states()).values())}\n"
                    + log_tails(tmp_path, names)
                ) from exc
            print(f"all 30 done {time.monotonic() - restarted:.1f}s after the new worker started")

        await assert_processed_exactly_once(
            deployment.sessionmaker, temporal_env.client, inbox["id"], ids, queue
        )
    finally:
        procs = [*services, *([new_worker] if new_worker else [])]
        codes = stop(procs)
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    # SIGTERM is a clean stop for the services and the new worker.
    assert codes == [0] * len(procs), (codes, log_tails(tmp_path, names))


async def test_mail_accepted_while_temporal_is_down_is_processed_after_restart(
    deployment: Deployment, session_dns: Any, tmp_path: Path
) -> None:
    temporal = TemporalDevServer(tmp_path / "temporal")
    temporal.start()
    api_port, smtp_port = listen_port(), listen_port()
    env = process_env(
        deployment.database_url, tmp_path, temporal.address, session_dns.port,
        POSTFLOW_API_PORT=str(api_port), POSTFLOW_SMTP_PORT=str(smtp_port),
    )  # fmt: skip
    queue = env["POSTFLOW_TASK_QUEUE"]
    names = ["api", "ingress", "worker"]
    procs: list[subprocess.Popen[bytes]] = []
    db = deployment.sessionmaker
    try:
        await temporal.wait_ready()
        procs = [spawn(name, env, tmp_path / f"{name}.log") for name in names]
        _, ingress_proc, worker_proc = procs
        base = f"http://127.0.0.1:{api_port}"
        await asyncio.to_thread(wait_http, f"{base}/health", procs, 90)
        await asyncio.to_thread(wait_port, smtp_port, 90)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            _, inbox = await tenant_with_inbox(http, deployment.superadmin_key, "outage")

        async def states() -> dict[str, str]:
            return {m.id: m.pipeline_state for m in await rows_of(db, inbox["id"])}

        async def done(ids: list[str]) -> bool:
            now = await states()
            return all(now.get(i) == "done" for i in ids)

        # Before the outage: the whole path works (and the ingress holds a live client).
        baseline = await send_all(smtp_port, inbox["address"], ["before the outage"])
        try:
            await eventually(lambda: done(baseline), timeout=45, interval=0.2)
        except AssertionError as exc:
            raise AssertionError(
                f"the message before the outage was not processed: {await states()}\n"
                + log_tails(tmp_path, names)
            ) from exc

        assert temporal.stop() == 0, temporal.log_tail()
        down_at = time.monotonic()
        during = await send_all(
            smtp_port, inbox["address"], [f"during outage {i}" for i in range(5)]
        )
        now = await states()
        assert [now[i] for i in during] == ["pending"] * 5, now
        # Stay down past the Temporal client's retry budget (~10 s): the ingress gives the
        # hand-offs up (the reconciler must start them) and the worker's polls keep failing.
        await asyncio.sleep(max(0.0, 15 - (time.monotonic() - down_at)))
        alive = {n: p.poll() for n, p in zip(names, procs, strict=True)}
        assert alive == {"api": None, "ingress": None, "worker": None}, (
            "a service exited while Temporal was down\n" + log_tails(tmp_path, names)
        )
        now = await states()
        assert [now[i] for i in during] == ["pending"] * 5, "started while Temporal was down"

        temporal.start()
        await temporal.wait_ready()
        restarted = time.monotonic()
        try:
            await eventually(lambda: done(during), timeout=60, interval=0.25)
        except AssertionError as exc:
            raise AssertionError(
                f"states {await states()} after the restart; "
                f"worker alive: {worker_proc.poll() is None}\n"
                + log_tails(tmp_path, names)
                + "\n--- temporal ---\n"
                + temporal.log_tail()
            ) from exc
        print(f"\n5 messages accepted during the outage done {time.monotonic() - restarted:.1f}s "
              f"after Temporal came back")  # fmt: skip
        # The worker that was running through the outage did the work: it survived.
        assert worker_proc.poll() is None, "the worker exited\n" + log_tails(tmp_path, names)
        assert ingress_proc.poll() is None

        client = await Client.connect(temporal.address)
        await assert_processed_exactly_once(db, client, inbox["id"], baseline + during, queue)
    finally:
        codes = stop(procs)
        temporal.stop()
    assert codes == [0] * len(procs), (codes, log_tails(tmp_path, names))
