"""LLM features through the real pipeline, with litellm talking HTTP to the local
OpenAI-compatible server (tests/helpers/llm_server.py): one-line summaries, the LLM half of
injection screening, structured extraction with validation-error retries, outages that are
recorded instead of losing mail, and the extraction-schema API (422 for bad schemas, 503
without an LLM). This module runs its own worker, ingress and API with LLM settings on a task
queue of its own, so the session stack (and every other test) stays LLM-less."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox, llm_settings
from tests.helpers.eventually import eventually
from tests.search.conftest import mail
from tests.helpers.smtp import send_raw

SCHEMA = {
    "type": "object",
    "properties": {
        "vendor": {"type": "string"},
        "total": {"type": "number"},
        "currency": {"enum": ["EUR", "USD"]},
    },
    "required": ["vendor", "total", "currency"],
    "additionalProperties": False,
}
GOOD = {"vendor": "Acme Freight", "total": 4200, "currency": "EUR"}


@pytest.fixture(scope="module")
def ai_settings(settings: Any, llm_server: Any) -> Any:
    return llm_settings(settings, llm_server, task_queue=f"postflow-ai-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
async def ai_stack(ai_settings: Any, temporal_env: Any, superadmin_key: str) -> AsyncIterator[dict[str, Any]]:
    from ingress.server import start_ingress
    from tests.helpers.stack import running_worker, served_api

    ingress = await start_ingress(ai_settings, reconcile_interval=0.5)
    try:
        async with (
            running_worker(temporal_env.client, ai_settings),
            served_api(ai_settings, timeout=60) as client,
        ):
            yield {"api": client, "ingress": ingress}
    finally:
        await ingress.close()


def _router(extraction_answers: list[Any]) -> Any:
    """Answers by what is asked (the order of the pipeline's calls is not the test's business)."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        system = body["messages"][0]["content"]
        if system.startswith("Summarize"):
            return {"content": "Acme Freight sends a 4,200 EUR invoice for October."}
        if "security filter" in system:
            return {"content": json.dumps({"score": 0.2, "reasons": ["ordinary invoice"]})}
        if "extract structured data" in system:
            value = extraction_answers.pop(0) if len(extraction_answers) > 1 else extraction_answers[0]
            return {"content": value if isinstance(value, str) else json.dumps(value)}
        return {"content": "?"}

    return answer


@pytest.fixture
def llm(llm_server: Any) -> Iterator[Any]:
    llm_server.reset()
    yield llm_server
    llm_server.default = None
    llm_server.reset()


async def _deliver_and_wait(stack: dict[str, Any], api: AsyncClient, t: Tenant, inbox: dict[str, Any],
                            raw: bytes, until: Any) -> dict[str, Any]:  # fmt: skip
    await send_raw(stack["ingress"].port, "billing@acme.example", [inbox["address"]], raw)

    async def probe() -> dict[str, Any] | None:
        data = (await api.get(f"/v1/inboxes/{inbox['id']}/messages", headers=t.headers)).json()["data"]
        if not data:
            return None
        msg = (await api.get(f"/v1/messages/{data[0]['id']}", headers=t.headers)).json()
        return msg if until(msg) else None

    return await eventually(probe, timeout=60, interval=0.2)


async def _put_schema(api: AsyncClient, t: Tenant, inbox_id: str, schema: Any) -> httpx.Response:
    return await api.put(f"/v1/inboxes/{inbox_id}/extraction-schema", headers=t.headers,
                         json={"name": "invoice", "description": "Invoices from vendors.", "schema": schema})  # fmt: skip


async def test_summary_llm_screening_and_extraction_retried_with_validation_errors(
    ai_stack: dict[str, Any], api: AsyncClient, tenant: Tenant, llm: Any
) -> None:
    ai_api = ai_stack["api"]
    inbox = await create_inbox(api, tenant)
    r = await _put_schema(ai_api, tenant, inbox["id"], SCHEMA)
    assert r.status_code == 201, r.text
    # First answer has the total as a string: the retry must carry the validation error.
    llm.default = _router([{**GOOD, "total": "4200"}, GOOD])
    raw = mail(inbox["address"], "Invoice October", "Invoice from Acme Freight: total 4200 EUR.",
               sender="billing@acme.example")  # fmt: skip
    msg = await _deliver_and_wait(ai_stack, api, tenant, inbox, raw,
                                  lambda m: m.get("extracted_data") or m.get("extraction_error"))  # fmt: skip
    assert msg["extracted_data"] == GOOD and msg["extraction_error"] is None
    assert msg["summary"] == "Acme Freight sends a 4,200 EUR invoice for October."
    assert msg["prompt_injection"]["llm_checked"] is True
    assert msg["prompt_injection"]["reasons"] == ["llm: ordinary invoice"]
    extraction_calls = [b for b in llm.requests if "extract structured data" in b["messages"][0]["content"]]
    assert len(extraction_calls) == 2
    retry_prompt = extraction_calls[1]["messages"][-1]["content"]
    assert "total" in retry_prompt and "not of type 'number'" in retry_prompt
    assert all(b["model"] == "scripted" for b in llm.requests)
    assert extraction_calls[0].get("response_format", {}).get("type") in ("json_schema", "json_object")


async def test_extraction_that_never_validates_is_stored_as_extraction_error(
    ai_stack: dict[str, Any], api: AsyncClient, tenant: Tenant, llm: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    assert (await _put_schema(ai_stack["api"], tenant, inbox["id"], SCHEMA)).status_code == 201
    llm.default = _router(["this is not json at all"])
    raw = mail(inbox["address"], "Invoice November", "Total 99 USD.", sender="billing@acme.example")
    msg = await _deliver_and_wait(ai_stack, api, tenant, inbox, raw, lambda m: m.get("extraction_error"))
    assert msg["extracted_data"] is None
    assert msg["extraction_error"].startswith("no valid extraction after 3 attempts")
    assert msg["pipeline_state"] == "done" and msg["subject"] == "Invoice November"


async def test_llm_outage_is_recorded_and_the_message_is_kept(
    ai_stack: dict[str, Any], api: AsyncClient, tenant: Tenant, llm: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    assert (await _put_schema(ai_stack["api"], tenant, inbox["id"], SCHEMA)).status_code == 201
    llm.default = None  # every call answers HTTP 500
    raw = mail(inbox["address"], "Invoice December", "Total 12 EUR.", sender="billing@acme.example")
    msg = await _deliver_and_wait(ai_stack, api, tenant, inbox, raw, lambda m: m.get("extraction_error"))
    assert msg["extraction_error"].startswith("LLM call failed")
    assert msg["summary"] is None
    assert msg["prompt_injection"]["llm_checked"] is False  # the deterministic screening stands
    # Searchable all the same: indexing does not depend on the LLM.
    r = await api.get("/v1/search/messages", params={"q": "invoice december", "inbox_id": inbox["id"]},
                      headers=tenant.headers)  # fmt: skip
    assert r.json()["data"][0]["message_id"] == msg["id"]


@pytest.mark.parametrize(
    ("schema", "field", "words"),
    [
        ({"type": "strin"}, "schema/type", "invalid JSON Schema"),
        ({"type": "object", "properties": {"a": {"minLength": -1}}}, "schema/properties/a/minLength", "invalid JSON Schema"),
        ({"type": "array"}, "schema/type", 'must be "object"'),
        ({"type": "object", "properties": {"c": {"enum": list(range(5000))}}}, "schema/properties/c/enum", "enum has 5000 values"),
        ({"type": "object", "properties": {"x": {"$ref": "https://evil.example/s.json"}}}, "schema/properties/x/$ref", "local references"),
        ("not an object", "schema", "JSON object"),
    ],
)
async def test_invalid_or_absurd_schemas_are_422_naming_the_problem(
    ai_stack: dict[str, Any], api: AsyncClient, tenant: Tenant, schema: Any, field: str, words: str
) -> None:
    inbox = await create_inbox(api, tenant)
    r = await _put_schema(ai_stack["api"], tenant, inbox["id"], schema)
    assert r.status_code in (400, 422), r.text
    body = r.json()
    assert body["code"] == "validation_error"
    if r.status_code == 422:
        assert body["details"][0]["field"] == field
        assert words in body["details"][0]["message"]


async def test_deeply_nested_schema_is_refused_and_a_good_one_round_trips(
    ai_stack: dict[str, Any], api: AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    ai_api = ai_stack["api"]
    inbox = await create_inbox(api, tenant)
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(30):
        deep = {"type": "object", "properties": {"n": deep}}
    r = await _put_schema(ai_api, tenant, inbox["id"], deep)
    assert r.status_code == 422 and "nesting deeper" in r.json()["message"]
    assert (await _put_schema(ai_api, tenant, inbox["id"], SCHEMA)).status_code == 201
    assert (await _put_schema(ai_api, tenant, inbox["id"], SCHEMA)).status_code == 200
    got = await ai_api.get(f"/v1/inboxes/{inbox['id']}/extraction-schema", headers=tenant.headers)
    assert got.status_code == 200 and got.json()["schema"] == SCHEMA and got.json()["enabled"] is True
    other = await ai_api.get(f"/v1/inboxes/{inbox['id']}/extraction-schema", headers=other_tenant.headers)
    assert other.status_code == 404
    r = await ai_api.delete(f"/v1/inboxes/{inbox['id']}/extraction-schema", headers=tenant.headers)
    assert r.status_code == 204
    got = await ai_api.get(f"/v1/inboxes/{inbox['id']}/extraction-schema", headers=tenant.headers)
    assert got.status_code == 404


async def test_ai_endpoints_answer_503_without_an_llm(api: AsyncClient, tenant: Tenant) -> None:
    inbox = await create_inbox(api, tenant)
    r = await _put_schema(api, tenant, inbox["id"], SCHEMA)  # the session app has no LLM
    assert r.status_code == 503
    assert r.json()["code"] == "llm_not_configured"
