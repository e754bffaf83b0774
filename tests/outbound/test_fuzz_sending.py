"""The sending operations fuzzed with schemathesis (the harness of tests/api/test_fuzz.py),
including bodies aimed at a real inbox so validation past the 404 is exercised: no 5xx, and
every error has the one error shape."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from schemathesis import BaseSchema

from tests.api.test_fuzz import (  # noqa: F401 (fixtures)
    _operations,
    _report,
    _tenant_check,
    fuzz_inbox_id,
    fuzz_schema,
    fuzz_tenant,
)
from tests.conftest import Tenant
from tests.helpers.fuzz import cases, failure_text, fuzz, hostile_cases

OURS = ("/v1/messages/send", "/v1/messages/{message_id}/reply", "/v1/messages/{message_id}/forward",
        "/v1/messages/{message_id}/cancel", "/v1/messages/{message_id}/reschedule",
        "/v1/messages/{message_id}/approve", "/v1/messages/{message_id}/reject",
        "/v1/messages/{message_id}/delivery", "/v1/inboxes/{inbox_id}/send-settings",
        "/v1/attachments", "/v1/smtp-configs", "/v1/smtp-configs/{config_id}",
        "/v1/smtp-configs/{config_id}/default", "/v1/sequences", "/v1/sequences/{sequence_id}",
        "/v1/sequences/{sequence_id}/cancel", "/v1/messages/{message_id}")  # fmt: skip
BASE = {"POST /v1/messages/send": {"inbox_id": "", "to": "a@example.com", "text": "t"}}


def _ours(schema: BaseSchema) -> list[Any]:
    return [op for op in _operations(schema) if op.path in OURS and op.path != "/v1/smtp-configs/{config_id}/test"]


def test_sending_operations_never_5xx(fuzz_schema: BaseSchema, fuzz_tenant: Tenant,
                                      fuzz_inbox_id: str) -> None:  # fmt: skip
    check = _tenant_check(fuzz_tenant.headers)
    failures: list[str | None] = []
    ops = _ours(fuzz_schema)
    assert len(ops) >= 15, [op.label for op in ops]
    for op in ops:
        strategy = cases(op)
        if "{inbox_id}" in op.path:
            strategy = st.one_of(strategy, cases(op, path_parameters={"inbox_id": fuzz_inbox_id}))
        failures.append(fuzz(op, strategy, 40, check))
        bodies = {k: {**v, "inbox_id": fuzz_inbox_id} for k, v in BASE.items()}
        for case in hostile_cases(op, known_ids={"inbox_id": fuzz_inbox_id}, base_bodies=bodies):
            try:
                check(case)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(failure_text(op, exc))
    _report(failures)
