"""The SMTP ingress over loopback: recipient policy, durable acceptance, hand-off, faults."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import aiosmtplib
import pytest
from httpx import AsyncClient

from ingress.server import start_ingress
from settings import Settings
from store.models import Message
from tests.conftest import Tenant, create_inbox
from tests.helpers import postgres
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def message_rows(sessionmaker: Any, inbox_id: str) -> list[Message]:
    from sqlalchemy import select

    async with sessionmaker() as s:
        return list((await s.scalars(select(Message).where(Message.inbox_id == inbox_id))).all())


async def test_accepted_mail_is_stored_processed_and_readable(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant, local_part=f"in-{uuid.uuid4().hex[:6]}")
    raw = simple_message(inbox["address"], subject="Quarterly numbers", body="See attached.", mid="q1@example.com")
    _, reply = await send_raw(ingress.port, "carol@example.com", [inbox["address"]], raw)
    assert reply.startswith("2.0.0 OK")

    async def processed() -> dict[str, Any] | None:
        r = await api.get(f"/v1/inboxes/{inbox['id']}/messages", headers=tenant.headers)
        data = r.json()["data"]
        return data[0] if data and data[0]["pipeline_state"] == "done" else None

    summary = await eventually(processed)
    assert summary["workflow_id"] == f"InboundMail/{summary['id']}"
    full = (await api.get(f"/v1/messages/{summary['id']}", headers=tenant.headers)).json()
    assert full["subject"] == "Quarterly numbers"
    assert full["from"] == {"name": "Bob", "email": "bob@example.com"}
    assert full["message_id"] == "q1@example.com"
    assert full["envelope_from"] == "carol@example.com"
    assert "See attached." in full["text"]


async def test_unknown_local_user_is_550_511(api: AsyncClient, ingress: Any) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as exc:
        await send_raw(ingress.port, "a@example.com", ["nobody-here@postflow.local"], simple_message("x"))
    code, msg = exc.value.recipients[0].code, exc.value.recipients[0].message
    assert (code, msg.split()[0]) == (550, "5.1.1")


async def test_foreign_domain_is_relay_denied_550_571(ingress: Any) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as exc:
        await send_raw(ingress.port, "a@example.com", ["victim@gmail.com"], simple_message("x"))
    assert exc.value.recipients[0].code == 550
    assert exc.value.recipients[0].message.startswith("5.7.1")


async def test_oversized_message_is_552_and_not_stored(
    api: AsyncClient, tenant: Tenant, settings: Settings, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    small = await start_ingress(settings.model_copy(update={"max_message_bytes": 2000}))
    try:
        with pytest.raises(aiosmtplib.SMTPResponseException) as exc:
            await send_raw(small.port, "a@example.com", [inbox["address"]],
                           simple_message(inbox["address"], body="x" * 5000))  # fmt: skip
        assert exc.value.code == 552
    finally:
        await small.close()
    assert await message_rows(sessionmaker, inbox["id"]) == []


async def test_recipients_beyond_limit_get_452(
    api: AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    boxes = [await create_inbox(api, tenant) for _ in range(3)]
    limited = await start_ingress(settings.model_copy(update={"max_recipients": 2}))
    try:
        rejected, _ = await send_raw(limited.port, "a@example.com", [b["address"] for b in boxes],
                                     simple_message(boxes[0]["address"]))  # fmt: skip
    finally:
        await limited.close()
    assert list(rejected) == [boxes[2]["address"]]
    assert rejected[boxes[2]["address"]][0] == 452


async def test_one_transaction_to_two_inboxes_stores_two_messages(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    a, b = await create_inbox(api, tenant), await create_inbox(api, tenant)
    await send_raw(ingress.port, "x@example.com", [a["address"], b["address"]], simple_message(a["address"]))

    async def both_done() -> bool:
        rows = await message_rows(sessionmaker, a["id"]) + await message_rows(sessionmaker, b["id"])
        return len(rows) == 2 and all(r.pipeline_state == "done" for r in rows)

    await eventually(both_done)
    rows = await message_rows(sessionmaker, a["id"]) + await message_rows(sessionmaker, b["id"])
    assert rows[0].raw_sha256 == rows[1].raw_sha256 and rows[0].id != rows[1].id


async def test_database_down_is_451_then_accepted_on_retry(
    api: AsyncClient, tenant: Tenant, settings: Settings, pg: tuple[str, str]
) -> None:
    # A database that does not exist yet is as unreachable as a stopped server.
    base = pg[1].rsplit("/", 1)[0]
    name = f"postflow_test_down_{uuid.uuid4().hex[:8]}"
    down = await start_ingress(settings.model_copy(update={"database_url": f"{base}/{name}"}))
    try:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as exc:
            await send_raw(down.port, "a@example.com", ["someone@postflow.local"], simple_message("x"))
        assert exc.value.recipients[0].code == 451
        # The database comes back (created, migrated, an inbox made): the sender's retry lands.
        import psycopg

        with psycopg.connect(pg[0], autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        from commands.services import bootstrap_async

        await bootstrap_async(settings.model_copy(update={"database_url": f"{base}/{name}"}))
        from store import inboxes
        from store.engine import create_engine, create_sessionmaker
        from store.models import Organization
        from store.scope import TenantScope

        engine = create_engine(settings.model_copy(update={"database_url": f"{base}/{name}"}))
        async with create_sessionmaker(engine).begin() as s:
            from sqlalchemy import select

            org = await s.scalar(select(Organization))
            assert org is not None
            await inboxes.create_inbox(s, TenantScope(org_id=org.id), local_part="someone",
                                       name="", domain_name=None)  # fmt: skip
        _, reply = await send_raw(down.port, "a@example.com", ["someone@postflow.local"], simple_message("x"))
        assert reply.startswith("2.0.0")
        await engine.dispose()
    finally:
        await down.close()
        postgres.drop_database(pg[0], name)


async def test_temporal_down_accepts_mail_and_reconciler_processes_it_later(
    api: AsyncClient, tenant: Tenant, settings: Settings, sessionmaker: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    no_temporal = settings.model_copy(update={"temporal_address": f"127.0.0.1:{closed_port()}"})
    ing = await start_ingress(no_temporal, reconcile_interval=0.2)
    try:
        _, reply = await send_raw(ing.port, "a@example.com", [inbox["address"]], simple_message(inbox["address"]))
        assert reply.startswith("2.0.0")
        rows = await message_rows(sessionmaker, inbox["id"])
        assert [r.pipeline_state for r in rows] == ["pending"]
    finally:
        await ing.close()
    # Temporal is back (the real one): the reconciler starts the pipeline.
    from datetime import timedelta

    from ingress.handoff import Handoff

    handoff = Handoff(settings, sessionmaker)
    assert await handoff.reconcile_once(older_than=timedelta(0)) >= 1

    async def done() -> bool:
        return [r.pipeline_state for r in await message_rows(sessionmaker, inbox["id"])] == ["done"]

    await eventually(done)


async def test_repeated_hand_off_never_processes_twice(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any,
    settings: Settings, temporal_env: Any,
) -> None:  # fmt: skip
    inbox = await create_inbox(api, tenant)
    await send_raw(ingress.port, "a@example.com", [inbox["address"]], simple_message(inbox["address"]))

    async def done_row() -> Message | None:
        rows = await message_rows(sessionmaker, inbox["id"])
        return rows[0] if rows and rows[0].pipeline_state == "done" else None

    row = await eventually(done_row)
    handle = temporal_env.client.get_workflow_handle(f"InboundMail/{row.id}")
    await handle.result()  # `done` is set before the pipeline's last steps (auth, indexing)
    first = await handle.describe()
    from ingress.handoff import Handoff

    await Handoff(settings, sessionmaker).start(row.id)  # a reconciler racing a finished pipeline
    # Same run, still completed: REJECT_DUPLICATE refused a second execution.
    again = await handle.describe()
    assert again.run_id == first.run_id and again.status == first.status
