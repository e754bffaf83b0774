"""Where a message's time goes: event times from Temporal workflow histories and the rows the
pipeline wrote, turned into per-stage durations (milliseconds). Read-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bench.report import percentiles


def epoch(value: datetime) -> float:
    """Seconds since the epoch; naive datetimes are UTC (how the store writes them)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


async def history_times(client: Any, workflow_id: str) -> dict[str, list[float]]:
    """Epoch seconds of each event type in one workflow's history, by type name
    (e.g. "WORKFLOW_TASK_STARTED")."""
    from temporalio.api.enums.v1 import EventType

    history = await client.get_workflow_handle(workflow_id).fetch_history()
    out: dict[str, list[float]] = {}
    for event in history.events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        out.setdefault(name, []).append(event.event_time.ToMicroseconds() / 1e6)
    return out


def stage_table(stages: dict[str, list[float]], indent: str = "    ") -> list[str]:
    """One line per stage: p50 / p90 / p99 / max in ms, in the order given."""
    lines = []
    width = max((len(k) for k in stages), default=10)
    for name, values in stages.items():
        if not values:
            continue
        p = percentiles(values)
        lines.append(
            f"{indent}{name:<{width}}  p50 {p['p50']:7.1f}  p90 {p['p90']:7.1f}  "
            f"p99 {p['p99']:7.1f}  max {p['max']:7.1f} ms  (n={len(values)})"
        )
    return lines


def add(stages: dict[str, list[float]], name: str, start: float | None, end: float | None) -> None:
    if start is not None and end is not None:
        stages.setdefault(name, []).append(1000 * (end - start))
