"""`webhooks`: webhook fan-out, N `message.received` events x M endpoints to a local receiver:
deliveries/s of a burst, and latency from the event (its timestamp, written by the pipeline)
to the receiver, p50/p99, at a steady pace and in the burst. Baseline in the same run: the
same receiver taking the same bodies from a bare httpx client (50 in flight), the HTTP ceiling
of this machine. Goal (issue 5): p50 <= 100 ms from message.received to the receiver.
"""

from __future__ import annotations

import asyncio
import json
import time
from argparse import Namespace
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from bench.harness import BenchError, Stack
from bench.platform import create_tenant, start_platform
from bench.report import Result, meter_for, percentiles
from bench.smtp_load import FROM, Conn, make_message, run_load

NAME = "webhooks"
GOAL_P50 = 100.0
IN_FLIGHT = 50
PACE = 1.0  # seconds between messages of the steady phase (below saturation)


class Clock:
    """Receipt times of a loopback receiver, as wall-clock seconds (the pipeline's event
    timestamps are wall-clock, written by another process on this host)."""

    def __init__(self) -> None:
        self.offset = time.time() - time.monotonic()

    def wall(self, monotonic: float) -> float:
        return self.offset + monotonic


def _event_latencies(requests: list[Any], clock: Clock) -> tuple[list[float], Counter[str]]:
    out: list[float] = []
    types: Counter[str] = Counter()
    for r in requests:
        body = json.loads(r.body)
        types[body["type"]] += 1
        if body["type"] == "message.received":
            sent = datetime.fromisoformat(body["timestamp"]).timestamp()
            out.append(1000 * (clock.wall(r.at) - sent))
    return out, types


async def _wait_count(receiver: Any, count: int, within: float) -> None:
    try:
        await receiver.wait_for(count, timeout=within)
    except TimeoutError as exc:
        raise BenchError(f"only {len(receiver.requests)} of {count} deliveries within {within:.0f}s") from exc


async def _baseline(receiver: Any, body: bytes, n: int) -> float:
    """Deliveries/s a bare httpx client achieves against the same receiver."""
    sem = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(i: int) -> None:
            async with sem:
                r = await http.post(f"{receiver.url}/base", content=body,
                                    headers={"content-type": "application/json"})  # fmt: skip
                if r.status_code != 200:
                    raise BenchError(f"baseline POST answered {r.status_code}")

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


async def run(stack: Stack, opts: Namespace) -> list[Result]:
    from tests.helpers.receiver import Receiver

    endpoints = 4
    steady = max(10, int(40 * opts.scale))
    burst = max(20, int(150 * opts.scale))
    extra = {"WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}
    platform = await start_platform(stack, extra=extra)
    headers, [inbox] = await create_tenant(platform, inboxes=1)
    clock = Clock()
    async with Receiver() as receiver:
        async with httpx.AsyncClient(base_url=platform.api_url, headers=headers, timeout=30) as api:
            for i in range(endpoints):
                r = await api.post("/v1/webhooks", json={
                    "url": f"{receiver.url}/{i}", "event_types": ["message.received"],
                    "description": f"bench {i}"})  # fmt: skip
                if r.status_code != 201:
                    raise BenchError(f"POST /v1/webhooks answered {r.status_code}: {r.text[:300]}")
        print(
            f"  {endpoints} endpoints subscribed to message.received; steady: {steady} messages "
            f"{PACE * 1000:.0f} ms apart; burst: {burst} messages from 8 SMTP clients"
        )
        # Warm-up: first workflows, first connections.
        smtp = await Conn.open(platform.smtp_port)
        try:
            for i in range(3):
                await smtp.send(FROM, inbox["address"], make_message(inbox["address"], -1 - i))
            await _wait_count(receiver, 3 * endpoints, 90)
            receiver.requests.clear()

            # Steady pace: what one event costs end to end when the system is not saturated.
            sent_at: list[float] = []
            for i in range(steady):
                status, text = await smtp.send(FROM, inbox["address"], make_message(inbox["address"], i))
                if status != 250:
                    raise BenchError(f"ingress answered {status} {text}")
                sent_at.append(time.time())
                await asyncio.sleep(PACE)
            await _wait_count(receiver, steady * endpoints, 120)
        finally:
            await smtp.close()
        steady_lat, types = _event_latencies(receiver.requests, clock)
        if types != Counter({"message.received": steady * endpoints}):
            raise BenchError(f"unexpected deliveries in the steady phase: {dict(types)}")
        sample_body = receiver.requests[0].body
        receiver.requests.clear()

        # Burst: deliveries/s while N x M deliveries drain.
        meter = meter_for(stack, platform.db).start()
        t0 = time.time()
        load = await run_load(platform.smtp_port, [(inbox["address"], make_message(inbox["address"], 10_000 + i)) for i in range(burst)], clients=8)  # fmt: skip
        if load.ok != burst:
            raise BenchError(f"burst: {load.ok} of {burst} accepted: {dict(load.codes)}")
        await _wait_count(receiver, burst * endpoints, 300)
        last = max(clock.wall(r.at) for r in receiver.requests)
        meter.stop()
        burst_lat, _ = _event_latencies(receiver.requests, clock)
        rate = burst * endpoints / (last - t0)
        receiver.requests.clear()
        base_rate = await _baseline(receiver, sample_body, max(200, burst * endpoints))

    s, b = percentiles(steady_lat), percentiles(burst_lat)
    print(
        f"  steady: event -> receiver p50 {s['p50']:.1f} / p90 {s['p90']:.1f} / p99 {s['p99']:.1f} "
        f"/ max {s['max']:.1f} ms over {len(steady_lat)} deliveries"
    )
    print(
        f"  burst: {burst * endpoints} deliveries in {last - t0:.1f} s = {rate:.1f}/s (from the "
        f"first SMTP send); event -> receiver p50 {b['p50']:.0f} / p99 {b['p99']:.0f} ms"
    )
    print(f"  baseline: bare httpx POSTs to the same receiver, {IN_FLIGHT} in flight: {base_rate:.0f}/s")
    for line in meter.lines(per=burst * endpoints, what="delivery"):
        print(line)
    return [
        Result(NAME, "steady: message.received -> receiver p50", s["p50"], "ms", None, "",
               f"<= {GOAL_P50:.0f} ms", s["p50"] <= GOAL_P50),  # fmt: skip
        Result(NAME, "steady: message.received -> receiver p99", s["p99"], "ms"),
        Result(NAME, f"burst {burst}x{endpoints}: deliveries/s", rate, "/s", base_rate,
               "bare httpx POSTs"),  # fmt: skip
        Result(NAME, "burst: message.received -> receiver p50", b["p50"], "ms"),
    ]
