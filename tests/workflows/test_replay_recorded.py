"""Histories recorded by earlier versions of the workflows (tests/workflows/histories/*.json,
fetched from real runs) replay under the current definitions: a change to a workflow's command
sequence that is not guarded by `workflow.patched` fails here, where in production it would
fail every pipeline or wait that was in flight during a deploy."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.registry import ALL_WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_recorded_histories_are_present() -> None:
    names = {p.stem for p in HISTORIES}
    assert {"inbound_mail_with_notify_waits_step", "wait_for_mail_before_otp_result"} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays_under_current_workflows(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)  # raises on non-determinism
