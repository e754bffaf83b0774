"""Figures, ratios to baselines, CPU accounting and the final summary table (printing only)."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from bench.harness import TEMPORAL_CLI

_TICK = os.sysconf("SC_CLK_TCK")
PG_GROUP = "PostgreSQL (this run's backends)"


@dataclass
class Result:
    bench: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    def line(self) -> str:
        text = f"  {self.metric}: {self.value:,.1f} {self.unit}"
        if self.baseline is not None:
            text += f" | baseline ({self.baseline_label}) {self.baseline:,.1f} {self.unit}"
            text += f" | ratio {self.ratio:.2f}" if self.ratio is not None else ""
        if self.goal:
            text += f" | goal {self.goal}: {'goal met' if self.met else 'goal missed'}"
        return text


def percentiles(values: list[float], points: tuple[int, ...] = (50, 90, 99)) -> dict[str, float]:
    """Nearest-rank percentiles plus max; values in any unit."""
    if not values:
        return {}
    ordered = sorted(values)
    out = {}
    for p in points:
        rank = max(1, -(-p * len(ordered) // 100))  # ceil(p/100 * n)
        out[f"p{p}"] = ordered[rank - 1]
    out["max"] = ordered[-1]
    return out


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / _TICK, sum(values) / _TICK


class CpuMeter:
    """CPU seconds per named process group (and the whole machine) between start() and stop().

    Groups are pid lists, e.g. {"worker": [123], "PostgreSQL": [backend pids]}; what no group
    accounts for is reported as other load (the kernel, other users of the machine)."""

    def __init__(
        self,
        groups: dict[str, list[int]],
        refresh: Callable[[], dict[str, list[int]]] | None = None,
    ) -> None:
        self.groups = dict(groups, **{"bench client": [os.getpid()]})
        # Re-read at stop(): pids that appeared meanwhile (new PostgreSQL backends) count from 0.
        self.refresh = refresh
        self.used: dict[str, float] = {}
        self.wall = 0.0
        self.machine_busy = 0.0

    def start(self) -> CpuMeter:
        self._t0 = time.monotonic()
        self._cpu0 = {p: _proc_cpu(p) for pids in self.groups.values() for p in pids}
        self._busy0 = _machine_busy()
        return self

    def stop(self) -> CpuMeter:
        self.wall = time.monotonic() - self._t0
        if self.refresh is not None:
            for name, pids in self.refresh().items():
                self.groups[name] = sorted(set(self.groups.get(name, [])) | set(pids))
        # A process that exited in between reads 0: it contributes nothing rather than < 0.
        self.used = {
            n: sum(max(0.0, _proc_cpu(p) - self._cpu0.get(p, 0.0)) for p in pids)
            for n, pids in self.groups.items()
        }
        self.machine_busy = _machine_busy()[0] - self._busy0[0]
        return self

    def lines(self, per: int = 0, what: str = "message") -> list[str]:
        """One line per group: CPU seconds, cores used, and ms per `what` when `per` > 0."""
        rows = list(self.used.items())
        rows.append(
            ("other load (kernel, other processes)", self.machine_busy - sum(self.used.values()))
        )
        rows.append(("whole machine", self.machine_busy))
        out = []
        for name, sec in rows:
            text = f"    {name:<40} {sec:7.2f} s CPU = {sec / max(self.wall, 1e-9):4.2f} cores"
            if per:
                text += f" = {1000 * sec / per:7.2f} ms/{what}"
            out.append(text)
        return out


def process_groups(
    stack: Any, db: Any = None, only: tuple[str, ...] | None = None
) -> dict[str, list[int]]:
    """CPU groups for a Stack's children (optionally `only` some) and `db`'s backends."""
    groups = {n: [p.pid] for n, p in stack.procs.items() if only is None or n in only}
    if db is not None:
        groups[PG_GROUP] = stack.backend_pids(db)
    return groups


def meter_for(stack: Any, db: Any = None, only: tuple[str, ...] | None = None) -> CpuMeter:
    """A CpuMeter over `process_groups(...)` that also counts backends opened meanwhile."""
    refresh = (lambda: {PG_GROUP: stack.backend_pids(db)}) if db is not None else None
    return CpuMeter(process_groups(stack, db, only), refresh)


def machine_facts() -> list[str]:
    cpus = os.cpu_count() or 0
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    try:
        temporal = subprocess.run(  # noqa: S603 (our own venv's binary)
            [str(TEMPORAL_CLI), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        temporal = "missing"
    libs = []
    for dist in ("temporalio", "aiosmtpd", "psycopg", "SQLAlchemy", "litestar", "uvicorn"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            libs.append(f"{dist} {metadata.version(dist)}")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [
        f"  CPU: {cpus} cores ({affinity} usable), {model or platform.processor()}; "
        f"RAM {mem:.1f} GiB",
        f"  Python {platform.python_version()} ({sys.executable}) on {platform.platform()}",
        f"  {temporal.splitlines()[0] if temporal else 'temporal: unknown'}",
        f"  {', '.join(libs)}",
        f"  load average: {load_average()}",
    ]


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def summary(results: list[Result], errors: dict[str, str]) -> list[str]:
    head = f"  {'benchmark':<9} {'metric':<44} {'value':>12} {'baseline':>12} {'ratio':>6}  goal"
    out = [head, "  " + "-" * (len(head) + 18)]
    for r in results:
        base = f"{r.baseline:,.1f}" if r.baseline is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        goal = f"{r.goal}: {'goal met' if r.met else 'goal missed'}" if r.goal else ""
        value = f"{r.value:,.1f} {r.unit}"
        out.append(f"  {r.bench:<9} {r.metric[:44]:<44} {value:>12} {base:>12} {ratio:>6}  {goal}")
    for bench, err in errors.items():
        out.append(f"  {bench:<9} ERROR: {err.splitlines()[0][:100] if err else '?'}")
    return out
