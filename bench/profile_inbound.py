"""`profile`: CPU time and SQL statements per message of the inbound path, measured inside the
process that does the work (process CPU time, not wall clock), so the figures hold on a loaded
machine: (1) the ingress accepting N messages over SMTP, hand-off to Temporal included (the
SMTP client runs in another process); (2) a worker running those N InboundMail pipelines
(workflow tasks and activities; the Temporal server's own CPU is not in it).

`python -m bench profile [--scale F] [--cprofile]` (cProfile prints the top functions).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys
import time
from argparse import Namespace
from collections import Counter
from typing import Any

from bench import pg
from bench.harness import BenchError, Stack
from bench.platform import create_tenant, start_platform
from bench.report import Result

NAME = "profile"


class StatementCounter:
    """Every SQL statement any engine of this process sends, by its first words."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def __enter__(self) -> StatementCounter:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        key = " ".join(words[:3]) if words and words[0].upper() != "SELECT" else "SELECT"
        if words and words[0].upper() == "SELECT":
            table = next((words[i + 1] for i, w in enumerate(words[:-1]) if w.upper() == "FROM"), "")
            key = f"SELECT {table}".strip()
        self.kinds[key[:60]] += 1

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def _cpu_line(label: str, cpu: float, n: int, stmts: StatementCounter) -> list[str]:
    out = [
        f"  {label}: {1000 * cpu / n:.2f} ms CPU per message, "
        f"{stmts.total / n:.2f} SQL statements per message (N={n})"
    ]
    for kind, count in stmts.kinds.most_common(12):
        out.append(f"      {count / n:6.2f}/msg  {kind}")
    return out


def _top(profile: cProfile.Profile, n: int = 25) -> str:
    buf = io.StringIO()
    pstats.Stats(profile, stream=buf).sort_stats("tottime").print_stats(n)
    return buf.getvalue()


async def _client(port: int, rcpts: list[str], n: int) -> None:
    """The SMTP load from another process, so its CPU is not counted here."""
    code = (
        "import asyncio,sys,json\n"
        "from bench.smtp_load import for_rcpt, run_load\n"
        "rcpts=json.loads(sys.argv[2]); n=int(sys.argv[3])\n"
        "r=asyncio.run(run_load(int(sys.argv[1]), for_rcpt(rcpts, n), clients=8))\n"
        "print(r.ok, r.sent, round(r.elapsed,3), dict(r.codes))\n"
        "sys.exit(0 if r.ok == n else 1)\n"
    )
    import json

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, str(port), json.dumps(rcpts), str(n),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"SMTP client failed: {out.decode(errors='replace')[-2000:]}")


async def _wait_states(url: str, states: tuple[str, ...], n: int, within: float) -> float:
    t0 = time.monotonic()
    sql = f"SELECT count(*) FROM messages WHERE pipeline_state IN {states!r}".replace(",)", ")")
    while time.monotonic() - t0 < within:
        if await asyncio.to_thread(pg.count, url, sql) >= n:
            return time.monotonic() - t0
        await asyncio.sleep(0.05)
    raise BenchError(f"fewer than {n} messages reached {states} within {within:.0f}s")


async def _steps(url: str, client: Any, deps: Any, k: int) -> list[str]:
    """CPU and statements of `inbound.process` and `inbound.authenticate`, each run alone
    (sequentially, through temporalio's ActivityEnvironment) on `k` stored messages."""
    from temporalio.testing import ActivityEnvironment

    from activities.inbound import InboundActivities
    from contracts.inbound import InboundMailInput

    with pg.connect(url) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM messages ORDER BY id DESC LIMIT %s", (k,)).fetchall()]  # fmt: skip
    acts = InboundActivities(deps)
    env = ActivityEnvironment(client=client)
    out = []
    for name in ("process", "authenticate"):
        fn = getattr(acts, name)
        with StatementCounter() as stmts:
            cpu0 = time.process_time()
            for mid in ids:
                await env.run(fn, InboundMailInput(message_id=mid))
            cpu = time.process_time() - cpu0
        out += _cpu_line(f"activity inbound.{name} alone", cpu, len(ids), stmts)
    return out


async def run(stack: Stack, opts: Namespace) -> list[Result]:
    from temporalio.client import Client

    import temporal_client
    from activities.deps import ActivityDeps
    from ingress.server import start_ingress
    from worker import build_worker

    n = max(50, int(500 * opts.scale))
    platform = await start_platform(stack, services=("api",))
    _, inboxes = await create_tenant(platform, inboxes=10)
    rcpts = [i["address"] for i in inboxes]
    settings = platform.settings.model_copy(update={"smtp_port": 0})
    profiler = cProfile.Profile() if getattr(opts, "cprofile", False) else None

    ingress = await start_ingress(settings, reconcile_interval=3600)
    try:
        await _client(ingress.port, rcpts, 20)  # warm-up: imports, pools, the Temporal client
        await _wait_states(platform.db.url, ("started",), 20, 60)
        with StatementCounter() as stmts:
            cpu0 = time.process_time()
            if profiler:
                profiler.enable()
            await _client(ingress.port, rcpts, n)
            await _wait_states(platform.db.url, ("started",), 20 + n, 120)  # hand-off done too
            if profiler:
                profiler.disable()
            ingress_cpu = time.process_time() - cpu0
        ingress_stmts = stmts
    finally:
        await ingress.close()
    for line in _cpu_line("ingress (accept + hand-off)", ingress_cpu, n, ingress_stmts):
        print(line)
    if profiler:
        print(_top(profiler))

    client: Client = await temporal_client.connect(settings)
    deps = ActivityDeps.build(settings)
    # The pipeline's own steps, one message at a time, outside any workflow.
    steps = await _steps(platform.db.url, client, deps, min(n, 100))
    profiler = cProfile.Profile() if getattr(opts, "cprofile", False) else None
    if getattr(opts, "steps_only", False):
        for line in steps:
            print(line)
        await deps.close()
        return [
            Result(NAME, "ingress CPU per message", 1000 * ingress_cpu / n, "ms"),
            Result(NAME, "ingress SQL statements per message", ingress_stmts.total / n, "stmts"),
        ]
    try:
        with StatementCounter() as stmts:
            cpu0 = time.process_time()
            if profiler:
                profiler.enable()
            async with build_worker(client, settings, deps):
                await _wait_states(platform.db.url, ("done",), 20 + n, 600)
            if profiler:
                profiler.disable()
            worker_cpu = time.process_time() - cpu0
    finally:
        await deps.close()
    total = n + 20
    for line in _cpu_line("worker (InboundMail pipeline)", worker_cpu, total, stmts):
        print(line)
    if profiler:
        print(_top(profiler))
    for line in steps:
        print(line)
    return [
        Result(NAME, "ingress CPU per message", 1000 * ingress_cpu / n, "ms"),
        Result(NAME, "ingress SQL statements per message", ingress_stmts.total / n, "stmts"),
        Result(NAME, "worker CPU per pipeline", 1000 * worker_cpu / total, "ms"),
        Result(NAME, "worker SQL statements per pipeline", stmts.total / total, "stmts"),
    ]
