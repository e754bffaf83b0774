"""API fuzzing: schemathesis against the app's own OpenAPI document, in-process over ASGI.

Every operation of `/docs/openapi.json` is fuzzed statelessly (one operation at a time), with
schemathesis' valid and invalid data and with a dictionary of hostile strings. The properties:

* with a tenant admin key, no input ever gets a 5xx; `POST /v1/orgs` (superadmin only)
  answers 403 whatever the body;
* without a key, every protected operation answers 401, never a 5xx;
* every error has the one error shape of `api/errors.py`: {status, code, message, details}.

The fuzzer never holds the superadmin key, so it cannot create organizations. The app under
test is its own instance: schemathesis runs its lifespan once on its own event-loop thread,
and it is shut down when the module is done. Hypothesis is derandomized, so runs are
reproducible; per-operation budgets keep the module around a minute.

A failing test names every failing operation with the failing input and a curl command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from httpx import AsyncClient
from schemathesis import APIOperation, BaseSchema, Case
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi

from settings import Settings
from tests.conftest import Tenant, make_tenant
from tests.helpers.fuzz import (
    assert_error_shape,
    cases,
    describe,
    failure_text,
    fuzz,
    hostile_cases,
)

OPENAPI_PATH = "/docs/openapi.json"

# Generated examples per operation, split between valid and invalid data.
MAX_EXAMPLES = 30
# DELETEs hit random ids (404) anyway; a few are enough, and they must not starve the tenant.
DELETE_EXAMPLES = 5
# Without a key every request is refused by the middleware, before any handler runs.
UNAUTHENTICATED_EXAMPLES = 5
# A valid request to the SSE stream stays open until the fuzzer's own deadline (~4.5 s):
# its parameters are validated before the first frame, so a few examples cover it.
STREAM_OPERATIONS = {"GET /v1/events/stream"}
STREAM_EXAMPLES = 3

SUPERADMIN_OPERATIONS = {"POST /v1/orgs"}
# Also fuzzed with the seeded inbox's id, so query and body inputs get past the 404. Not the
# blocking waits (`/wait`, `/otp`): on a real inbox they hold the request for `timeout`.
ON_AN_INBOX = {"GET /v1/inboxes/{inbox_id}", "GET /v1/inboxes/{inbox_id}/messages",
               "PATCH /v1/inboxes/{inbox_id}"}  # fmt: skip
# Pidgebox's /api/wait creates (or uses) a real alias from almost any input and then blocks for
# up to 90 s, which the in-process fuzzer's deadline cancels; its validation and blocking paths
# are tested in tests/api/test_pidgebox.py instead.
NOT_FUZZED = {"POST /api/wait"}
# Valid bodies the hostile values are put into (the document cannot tell which scopes exist).
BASE_BODIES: dict[str, dict[str, Any]] = {
    "POST /v1/orgs": {"name": "Fuzz"},
    "POST /v1/api-keys": {"name": "fuzz", "scopes": ["mail.read"]},
}


def _operations(schema: BaseSchema) -> list[APIOperation]:
    ops = [result.ok() for result in schema.get_all_operations()]
    assert ops, "the OpenAPI document lists no operations"
    return ops


def _public_operations(app: Any) -> set[str]:
    """Operations that need no key: `exclude_from_auth` handlers and api/auth.py PUBLIC_PATHS."""
    from api.auth import PUBLIC_PATHS

    public = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", []):
            excluded = any(re.search(pattern, path) for pattern in PUBLIC_PATHS)
            if excluded or handler.opt.get("exclude_from_auth"):
                public |= {f"{method} {path}" for method in handler.http_methods}
    return public


def _report(failures: list[str | None]) -> None:
    found = [f for f in failures if f]
    assert not found, f"{len(found)} operation(s) failed:\n\n" + "\n\n".join(found)


@pytest.fixture(scope="module")
def fuzz_schema(settings: Settings, superadmin_key: str) -> Iterator[BaseSchema]:
    """The app's own OpenAPI document, from a fresh app whose lifespan has run (after
    `superadmin_key`: migrations applied, platform bootstrapped)."""
    from api.app import create_app

    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi(OPENAPI_PATH, app, config=schemathesis.Config())
    try:
        yield schema
    finally:
        # Dispose of the fuzzed app's engine before the session drops the database.
        schemathesis_asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
async def fuzz_tenant(api: AsyncClient, superadmin_key: str) -> Tenant:
    return await make_tenant(api, superadmin_key, name="Fuzz Corp")


@pytest.fixture(scope="module")
async def fuzz_inbox_id(api: AsyncClient, fuzz_tenant: Tenant) -> str:
    r = await api.post("/v1/inboxes", json={"name": "fuzz seed"}, headers=fuzz_tenant.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _tenant_check(headers: dict[str, str]) -> Any:
    def check(case: Case) -> None:
        # Our header replaces any Authorization schemathesis generated from the security schemes.
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error], headers=headers)
        assert_error_shape(case, response, headers)
        if case.operation.label in SUPERADMIN_OPERATIONS:
            assert response.status_code == 403, "a tenant key must be refused: " + describe(
                case, response, headers
            )

    return check


def _tenant_still_works(schema: BaseSchema, headers: dict[str, str]) -> None:
    with schemathesis_asgi.get_client(schema.app) as client:
        r = client.get("/v1", headers=headers)
    assert r.status_code == 200, f"the fuzzing tenant's key stopped working: {r.text}"


def test_fuzz_with_tenant_admin_key_never_5xx(
    fuzz_schema: BaseSchema, fuzz_tenant: Tenant, fuzz_inbox_id: str
) -> None:
    check = _tenant_check(fuzz_tenant.headers)
    failures = []
    for op in _operations(fuzz_schema):
        if op.label in NOT_FUZZED:
            continue
        strategy = cases(op)
        if op.label in ON_AN_INBOX:
            strategy = st.one_of(strategy, cases(op, path_parameters={"inbox_id": fuzz_inbox_id}))
        budget = DELETE_EXAMPLES if op.method.upper() == "DELETE" else MAX_EXAMPLES
        budget = STREAM_EXAMPLES if op.label in STREAM_OPERATIONS else budget
        failures.append(fuzz(op, strategy, budget, check))
    _report(failures)
    _tenant_still_works(fuzz_schema, fuzz_tenant.headers)


def test_hostile_strings_with_tenant_admin_key_never_5xx(
    fuzz_schema: BaseSchema, fuzz_tenant: Tenant, fuzz_inbox_id: str
) -> None:
    check = _tenant_check(fuzz_tenant.headers)
    failures: list[str | None] = []
    for op in _operations(fuzz_schema):
        if op.label in NOT_FUZZED:
            continue
        known_ids = {"inbox_id": fuzz_inbox_id} if op.label in ON_AN_INBOX else {}
        for case in hostile_cases(op, known_ids=known_ids, base_bodies=BASE_BODIES):
            try:
                check(case)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(failure_text(op, exc))
    _report(failures)
    _tenant_still_works(fuzz_schema, fuzz_tenant.headers)


def test_fuzz_without_key_is_always_401(fuzz_schema: BaseSchema) -> None:
    def check(case: Case) -> None:
        # Generated Authorization / X-API-Key headers carry random values; none is a valid key.
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error])
        assert_error_shape(case, response, None)
        assert response.status_code == 401, "expected 401: " + describe(case, response, None)

    public = _public_operations(fuzz_schema.app)
    assert "GET /health" in public
    failures = []
    for op in _operations(fuzz_schema):
        if op.label not in public:
            failures.append(fuzz(op, cases(op), UNAUTHENTICATED_EXAMPLES, check))
    _report(failures)
