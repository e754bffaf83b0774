"""`accept`: durable accept rate of the real ingress process vs a bare aiosmtpd + PostgreSQL
baseline, same client code and ~2 KB messages, 8 concurrent clients.

A "250" from Postflow means the blob is fsynced and the row committed; the Temporal hand-off
happens after it. Measured with Temporal up and hand-off on, first without a worker (so the
pipeline backlog does not compete for CPU), then with the worker draining that backlog.
"""

from __future__ import annotations

import asyncio
import sys
import time
from argparse import Namespace

import psycopg

from bench.harness import BenchError, Stack, create_tenant, free_port
from bench.report import CpuMeter, Result
from bench.smtp_load import LoadResult, make_message, run_load

NAME = "accept"
GOAL = 0.5
CLIENTS = 8


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


async def _measure(
    stack: Stack, label: str, port: int, rcpt: str, n: int, warm: int, *, per_connection: bool
) -> tuple[LoadResult, CpuMeter]:
    await run_load(port, rcpt, [make_message(rcpt, -i) for i in range(warm)], clients=CLIENTS,
                   per_connection=per_connection)  # fmt: skip
    messages = [make_message(rcpt, i) for i in range(n)]
    stack.check_alive()
    meter = CpuMeter({k: p.pid for k, p in stack.procs.items()}).start()
    load = await run_load(port, rcpt, messages, clients=CLIENTS, per_connection=per_connection)
    meter.stop()
    stack.check_alive()
    mode = "1 msg/connection" if per_connection else "keep-alive"
    print(f"  {label}, {mode}: {load.ok}/{n} answered 250 in {load.elapsed:.2f} s = "
          f"{load.rate:,.1f} msg/s; replies {dict(load.codes)}"
          + (f"; {len(load.errors)} errors, e.g. {load.errors[0]}" if load.errors else ""))  # fmt: skip
    for line in meter.lines(per=load.ok):
        print(line)
    if load.ok < n * 0.99:
        raise BenchError(f"{label}: only {load.ok} of {n} messages accepted: {dict(load.codes)}")
    return load, meter


async def _handoff_drain(url: str, timeout: float = 60) -> tuple[float, int]:
    """Seconds until no row is `pending` (every accepted message handed to Temporal)."""
    t0 = time.perf_counter()
    pending = 0
    while time.perf_counter() - t0 < timeout:
        pending = await asyncio.to_thread(
            _count, url, "SELECT count(*) FROM messages WHERE pipeline_state = 'pending'"
        )
        if pending == 0:
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - t0, pending


async def run(stack: Stack, opts: Namespace) -> list[Result]:
    n = max(100, int(3000 * opts.scale))
    n_conn = max(100, int(1000 * opts.scale))
    warm = max(20, int(200 * opts.scale))
    print(f"  {n} messages keep-alive and {n_conn} one-per-connection, {CLIENTS} clients, "
          f"{len(make_message('x@y.z', 0))} byte messages, {warm} warm-up messages per run")  # fmt: skip
    platform = await stack.postflow(services=("ingress", "api"))
    _, [inbox] = await create_tenant(platform)
    rcpt = inbox["address"]

    base_port = free_port()
    stack.spawn("baseline smtp", [sys.executable, "-m", "bench.baseline_smtp", "--port",
                                  str(base_port), "--dsn", platform.db.url])  # fmt: skip
    await stack.wait_port(base_port, "baseline smtp")
    b_keep, _ = await _measure(stack, "baseline aiosmtpd+PG", base_port, rcpt, n, warm, per_connection=False)
    b_conn, _ = await _measure(stack, "baseline aiosmtpd+PG", base_port, rcpt, n_conn, warm, per_connection=True)
    stack.stop("baseline smtp")
    stored = _count(platform.db.url, "SELECT count(*) FROM bench_inbound")
    print(f"  baseline rows committed: {stored} (expected {n + n_conn + 2 * warm})")

    label = "Postflow ingress (Temporal up, no worker)"
    p_keep, _ = await _measure(stack, label, platform.smtp_port, rcpt, n, warm, per_connection=False)
    drain, left = await _handoff_drain(platform.db.url)
    print(f"  hand-off to Temporal drained {drain:.2f} s after the last 250 ({left} still pending); "
          f"accept-to-handed-off rate {n / (p_keep.elapsed + drain):,.1f} msg/s")  # fmt: skip
    p_conn, _ = await _measure(stack, label, platform.smtp_port, rcpt, n_conn, warm, per_connection=True)
    await _handoff_drain(platform.db.url)

    # The realistic steady state of a burst: the worker is draining the pipeline backlog
    # (thousands of InboundMail workflows) on the same cores while mail keeps arriving.
    worker_env = dict(platform.env)
    stack.spawn("worker", [sys.executable, "-m", "commands", "worker"], worker_env)
    await asyncio.sleep(3)  # let it import, connect and start polling
    n_busy = max(100, n // 3)
    label_busy = "Postflow ingress (worker draining backlog)"
    p_busy, _ = await _measure(stack, label_busy, platform.smtp_port, rcpt, n_busy, warm, per_connection=False)
    stored = _count(platform.db.url, "SELECT count(*) FROM messages")
    print(f"  Postflow rows committed: {stored} (expected {n + n_conn + n_busy + 3 * warm})")

    def res(metric: str, load: LoadResult, base: LoadResult, label: str, goal: bool) -> Result:
        ratio = load.rate / base.rate if base.rate else 0.0
        return Result(NAME, metric, load.rate, "msg/s", base.rate, label,
                      f"ratio >= {GOAL}" if goal else "", ratio >= GOAL if goal else None)  # fmt: skip

    return [
        res("keep-alive, Temporal up, no worker", p_keep, b_keep, "aiosmtpd+PG keep-alive", True),
        res("1 msg/connection, Temporal up, no worker", p_conn, b_conn, "aiosmtpd+PG 1/conn", False),
        res("keep-alive, worker draining backlog", p_busy, b_keep, "aiosmtpd+PG keep-alive", False),
    ]
