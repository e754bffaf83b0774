"""Why pipelines are not finishing: the activity failures workers logged, per workflow.

In-process workers are read through a logging handler (temporalio logs each failed attempt
with the activity's info in `extra`); worker OS processes through their log files.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

_FAILED = re.compile(
    r"Completing activity as failed .*'activity_type': '([^']+)'.*'workflow_id': '([^']+)'"
)
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Detected|Exit|Timeout)\w*): ?(.*)")


class ActivityFailures(logging.Handler):
    """The last failure of each pipeline's activities, from the workers' log records."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: dict[str, str] = {}  # workflow id -> "activity: ExcType: message"
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        info = getattr(record, "temporal_activity", None) or {}
        wid = info.get("workflow_id") if isinstance(info, dict) else None
        if not wid or not record.exc_info or record.exc_info[1] is None:
            return
        exc = record.exc_info[1]
        cause = exc.__cause__ or exc
        first = (str(cause).strip().splitlines() or [""])[0][:160]
        self.last[wid] = f"{info.get('activity_type')}: {type(cause).__name__}: {first}"
        self.kinds[f"{info.get('activity_type')}: {type(cause).__name__}: {first[:90]}"] += 1

    def read_logs(self, logs: list[Path]) -> None:
        """Failures the worker processes logged: the exception closing each traceback."""
        for log in filter(Path.exists, logs):
            found: list[tuple[str, str, str]] = []  # (activity, workflow id, last exception)
            for line in log.read_text(errors="replace").splitlines():
                if m := _FAILED.search(line):
                    found.append((m.group(1), m.group(2), ""))
                elif found and (e := _EXCEPTION.match(line)):
                    name = e.group(1).rsplit(".", 1)[-1]
                    found[-1] = (*found[-1][:2], f"{name}: {e.group(2)[:160]}")
            for activity_type, wid, exc in found:
                self.last[wid] = f"{activity_type}: {exc}"
                self.kinds[f"{activity_type}: {exc[:110]}"] += 1

    def summary(self) -> str:
        return ", ".join(f"{kind} x{n}" for kind, n in self.kinds.most_common()) or "none logged"
