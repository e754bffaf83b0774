"""`accept`: durable accept rate of the real ingress process vs a bare aiosmtpd + PostgreSQL
baseline, same client code and ~2 KB messages, 8 concurrent clients.

A "250" from Postflow means the blob is fsynced and the row committed; the Temporal hand-off
happens after it. Measured with Temporal up and hand-off on, first without a worker (so the
pipeline backlog does not compete for CPU), then with the worker draining that backlog.
Baseline and Postflow runs alternate in rounds, so both see the same background load.
"""

from __future__ import annotations

import asyncio
import sys
import time
from argparse import Namespace

from bench import pg
from bench.harness import BenchError, Database, Stack, free_port
from bench.platform import create_tenant, start_platform
from bench.report import Result, meter_for
from bench.smtp_load import LoadResult, for_rcpt, make_message, run_load

NAME = "accept"
GOAL = 0.5
CLIENTS = 8
ROUNDS = 2
INBOXES = 50  # recipients round-robin: with the worker running, pipelines spread over inboxes
WARM_SECONDS = 4.0
MAX_SECONDS = 8.0  # per measured run: keeps `python -m bench` within minutes when slow


def _combine(runs: list[LoadResult]) -> LoadResult:
    total = LoadResult()
    for r in runs:
        total.sent += r.sent
        total.ok += r.ok
        total.elapsed += r.elapsed
        total.codes.update(r.codes)
        total.errors += r.errors
        total.capped = total.capped or r.capped
    return total


async def _measure(
    stack: Stack,
    db: Database,
    label: str,
    port: int,
    rcpts: list[str],
    n: int,
    warm: int,
    *,
    per_connection: bool,
) -> LoadResult:
    """Warm up with `warm` messages, then send `n` (capped at MAX_SECONDS) and print it."""
    if warm:
        await run_load(
            port,
            for_rcpt(rcpts, warm, -warm),
            clients=CLIENTS,
            per_connection=per_connection,
            max_seconds=WARM_SECONDS,
        )
    messages = for_rcpt(rcpts, n)
    stack.check_alive()
    meter = meter_for(stack, db).start()
    load = await run_load(
        port, messages, clients=CLIENTS, per_connection=per_connection, max_seconds=MAX_SECONDS
    )
    meter.stop()
    stack.check_alive()
    mode = "1 msg/connection" if per_connection else "keep-alive"
    cap = f" (time cap {MAX_SECONDS:.0f} s)" if load.capped else ""
    errors = f"; {len(load.errors)} errors, e.g. {load.errors[0]}" if load.errors else ""
    print(
        f"  {label}, {mode}: {load.ok}/{n} answered 250 in {load.elapsed:.2f} s{cap} = "
        f"{load.rate:,.1f} msg/s; replies {dict(load.codes)}{errors}"
    )
    for line in meter.lines(per=load.ok):
        print(line)
    if load.ok < load.sent * 0.99 or not load.ok:
        raise BenchError(f"{label}: {load.ok} of {load.sent} accepted: {dict(load.codes)}")
    return load


async def _handoff_drain(url: str, within: float = 60) -> tuple[float, int]:
    """Seconds until no row is `pending` (every accepted message handed to Temporal)."""
    t0 = time.perf_counter()
    sql = "SELECT count(*) FROM messages WHERE pipeline_state = 'pending'"
    pending = await asyncio.to_thread(pg.count, url, sql)
    while pending and time.perf_counter() - t0 < within:
        await asyncio.sleep(0.1)
        pending = await asyncio.to_thread(pg.count, url, sql)
    return time.perf_counter() - t0, pending


async def run(stack: Stack, opts: Namespace) -> list[Result]:
    n = max(100, int(3000 * opts.scale)) // ROUNDS
    n_conn = max(100, int(1000 * opts.scale)) // ROUNDS
    warm = max(20, int(200 * opts.scale))
    size = len(make_message("bench-0123456789@postflow.local", 0))
    print(
        f"  {CLIENTS} clients, {size}-byte messages to {INBOXES} inboxes; {ROUNDS} rounds of "
        f"baseline then Postflow, {n} keep-alive + {n_conn} one-per-connection messages per "
        f"round and side, each run capped at {MAX_SECONDS:.0f} s; {warm} warm-up messages"
    )
    platform = await start_platform(stack, services=("ingress", "api"))
    _, inboxes = await create_tenant(platform, inboxes=INBOXES)
    rcpts = [i["address"] for i in inboxes]
    base_port = free_port()
    argv = [sys.executable, "-m", "bench.baseline_smtp", "--port", str(base_port)]
    stack.spawn("baseline smtp", [*argv, "--dsn", platform.db.url])
    await stack.wait_port(base_port, "baseline smtp")

    db, pf_port = platform.db, platform.smtp_port
    base_label, pf_label = "baseline aiosmtpd+PG", "Postflow ingress (Temporal up, no worker)"
    runs: dict[str, list[LoadResult]] = {"bk": [], "pk": [], "bc": [], "pc": []}
    drains: list[float] = []
    for rnd in range(ROUNDS):
        w = warm if rnd == 0 else 0
        runs["bk"].append(
            await _measure(stack, db, base_label, base_port, rcpts, n, w, per_connection=False)
        )
        runs["pk"].append(
            await _measure(stack, db, pf_label, pf_port, rcpts, n, w, per_connection=False)
        )
        drain, left = await _handoff_drain(db.url)
        drains.append(drain)
        print(f"  hand-off to Temporal drained {drain:.2f} s after the last 250 ({left} pending)")
        runs["bc"].append(
            await _measure(stack, db, base_label, base_port, rcpts, n_conn, w, per_connection=True)
        )
        runs["pc"].append(
            await _measure(stack, db, pf_label, pf_port, rcpts, n_conn, w, per_connection=True)
        )
        await _handoff_drain(db.url)
    stack.stop("baseline smtp")
    b_keep, p_keep, b_conn, p_conn = (_combine(runs[k]) for k in ("bk", "pk", "bc", "pc"))
    stored = pg.count(db.url, "SELECT count(*) FROM bench_inbound")
    print(f"  baseline rows committed: {stored} (250s answered: {b_keep.ok + b_conn.ok} + warm-up)")
    print(
        f"  Postflow accept-to-handed-off rate (keep-alive): "
        f"{p_keep.ok / (p_keep.elapsed + sum(drains)):,.1f} msg/s"
    )

    # The realistic steady state of a burst: the worker is draining the pipeline backlog
    # (thousands of InboundMail workflows) on the same cores while mail keeps arriving.
    stack.spawn("worker", [sys.executable, "-m", "commands", "worker"], platform.env)
    await asyncio.sleep(3)  # let it import, connect and start polling
    busy_label = "Postflow ingress (worker draining backlog)"
    p_busy = await _measure(stack, db, busy_label, pf_port, rcpts, n, 0, per_connection=False)
    stored = pg.count(db.url, "SELECT count(*) FROM messages")
    answered = p_keep.ok + p_conn.ok + p_busy.ok
    print(f"  Postflow rows committed: {stored} (250s answered: {answered} + warm-up)")

    def res(metric: str, load: LoadResult, base: LoadResult, label: str, goal: bool) -> Result:
        ratio = load.rate / base.rate if base.rate else 0.0
        return Result(
            NAME,
            metric,
            load.rate,
            "msg/s",
            base.rate,
            label,
            f"ratio >= {GOAL}" if goal else "",
            ratio >= GOAL if goal else None,
        )

    return [
        res("keep-alive, Temporal up, no worker", p_keep, b_keep, "aiosmtpd+PG keep-alive", True),
        res(
            "1 msg/connection, Temporal up, no worker", p_conn, b_conn, "aiosmtpd+PG 1/conn", False
        ),
        res("keep-alive, worker draining backlog", p_busy, b_keep, "aiosmtpd+PG keep-alive", False),
    ]
