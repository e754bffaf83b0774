"""`send`: outbound throughput through the relay transport (8 concurrent API clients, until
a local SMTP sink has every message) as a ratio to the trivial one-workflow-one-activity
ceiling of the same Temporal server, and scheduled-send lateness (sink receipt minus send_at,
p50/p99 over 200 messages scheduled 2-10 s ahead).

Postflow runs as its own processes (api, worker) with POSTFLOW_OUTBOUND_TRANSPORT=relay to an
aiosmtpd sink on loopback; rate limits are off for the run. Every phase is capped in time.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from argparse import Namespace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import BenchError, Stack
from bench.pipeline_throughput import _baseline
from bench.platform import create_tenant, start_platform
from bench.report import Result, meter_for, percentiles

NAME = "send"
CLIENTS = 8
GOAL_RATIO = 0.5
GOAL_P99_MS = 500.0
THROUGHPUT_CAP, LATENESS_CAP = 90.0, 60.0  # seconds


async def run(stack: Stack, opts: Namespace) -> list[Result]:
    import httpx
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from tests.helpers.smtp_sink import Received, SmtpSink

    sink = SmtpSink().start()
    arrived: dict[str, float] = {}  # recipient -> wall time the sink took the message

    def on_accept(r: Received) -> None:
        for rcpt in r.rcpt_tos:
            arrived.setdefault(rcpt.lower(), time.time())

    sink.on_accept = on_accept
    try:
        platform = await start_platform(stack, services=("worker", "api"), extra={
            "OUTBOUND_TRANSPORT": "relay", "RELAY_URL": f"smtp://127.0.0.1:{sink.port}",
            "SEND_LIMIT_HOURLY": "0", "SEND_LIMIT_DAILY": "0",
            "ORG_SEND_LIMIT_HOURLY": "0", "ORG_SEND_LIMIT_DAILY": "0",
        })  # fmt: skip
        client = await Client.connect(platform.temporal_address, data_converter=pydantic_data_converter)
        n = max(16, int(400 * opts.scale))
        ceiling, _ = await _baseline(stack, client, platform, n)
        headers, inboxes = await create_tenant(platform, inboxes=CLIENTS)
        async with httpx.AsyncClient(base_url=platform.api_url, timeout=60, headers=headers) as http:
            rate = await _throughput(stack, http, inboxes, arrived, n)
            late = await _lateness(http, inboxes, arrived, max(20, int(200 * opts.scale)))
    finally:
        sink.stop()
    pct = percentiles(late)
    return [
        Result(NAME, f"relay send throughput, {CLIENTS} API clients", rate, "msg/s", ceiling,
               "trivial workflow + 1 activity", f"ratio >= {GOAL_RATIO}",
               rate / ceiling >= GOAL_RATIO if ceiling else None),
        Result(NAME, "scheduled-send lateness p50", pct.get("p50", 0.0), "ms"),
        Result(NAME, "scheduled-send lateness p99", pct.get("p99", 0.0), "ms", goal=f"<= {GOAL_P99_MS:.0f} ms",
               met=pct.get("p99", 1e9) <= GOAL_P99_MS),
    ]  # fmt: skip


async def _send(http: Any, inbox_id: str, to: str, send_at: datetime | None = None) -> None:
    body: dict[str, Any] = {"inbox_id": inbox_id, "to": to, "subject": "bench", "text": "hello"}
    if send_at is not None:
        body["send_at"] = send_at.isoformat()
    r = await http.post("/v1/messages/send", json=body)
    if r.status_code != 202:
        raise BenchError(f"POST /v1/messages/send answered {r.status_code}: {r.text[:300]}")


async def _throughput(stack: Stack, http: Any, inboxes: list[dict[str, Any]],
                      arrived: dict[str, float], n: int) -> float:  # fmt: skip
    rcpts = [f"t{i}-{uuid.uuid4().hex[:8]}@sink.bench.test" for i in range(n)]
    meter = meter_for(stack, only=("temporal", "worker", "api")).start()
    t0 = time.time()

    async def client(c: int) -> None:
        for i in range(c, n, CLIENTS):
            await _send(http, inboxes[c]["id"], rcpts[i])

    await asyncio.wait_for(asyncio.gather(*(client(c) for c in range(CLIENTS))), THROUGHPUT_CAP)
    accepted_by = time.time()
    deadline = time.monotonic() + THROUGHPUT_CAP
    while sum(r.lower() in arrived for r in rcpts) < n and time.monotonic() < deadline:
        stack.check_alive()
        await asyncio.sleep(0.05)
    meter.stop()
    got = [arrived[r.lower()] for r in rcpts if r.lower() in arrived]
    if not got:
        raise BenchError("the sink received no message")
    rate = len(got) / (max(got) - t0)
    print(f"  relay send: {len(got)}/{n} at the sink, {rate:,.1f} msg/s "
          f"(API accepted all in {accepted_by - t0:.1f} s)")  # fmt: skip
    for line in meter.lines(per=len(got), what="message"):
        print(line)
    return rate


async def _lateness(http: Any, inboxes: list[dict[str, Any]], arrived: dict[str, float],
                    m: int) -> list[float]:  # fmt: skip
    planned: dict[str, float] = {}
    sem = asyncio.Semaphore(CLIENTS)

    async def one(i: int) -> None:
        to = f"s{i}-{uuid.uuid4().hex[:8]}@sink.bench.test"
        async with sem:  # send_at counts from the request, not from the queue before it
            send_at = datetime.now(UTC) + timedelta(seconds=random.uniform(2, 10))  # noqa: S311
            await _send(http, inboxes[i % len(inboxes)]["id"], to, send_at)
        planned[to] = send_at.timestamp()

    await asyncio.gather(*(one(i) for i in range(m)))
    deadline = time.monotonic() + LATENESS_CAP
    while sum(t in arrived for t in planned) < m and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    late = [(arrived[t] - at) * 1000 for t, at in planned.items() if t in arrived]
    pct = percentiles(late)
    print(f"  scheduled sends: {len(late)}/{m} arrived; lateness p50 {pct.get('p50', 0):.0f} ms, "
          f"p99 {pct.get('p99', 0):.0f} ms, max {pct.get('max', 0):.0f} ms")  # fmt: skip
    return late
