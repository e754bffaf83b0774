"""Writing parsed mail onto its row: idempotent under activity retries, hostile input truncated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update

from store import messages
from store.messages import InboundEnvelope
from store.models import Inbox, Message
from store.parsed import SNIPPET_LEN, ParsedFields, store_parsed


def _attachment(name: str, *, inline: bool = False, **kw: Any) -> dict[str, Any]:
    return {
        "filename": name,
        "content_type": kw.get("content_type", "application/pdf"),
        "size": kw.get("size", 123),
        "sha256": kw.get("sha256", "a" * 64),
        "content_id": kw.get("content_id"),
        "inline": inline,
    }


def _fields(attachments: list[dict[str, Any]] | None = None, **kw: Any) -> ParsedFields:
    base: dict[str, Any] = dict(
        message_id_header="<abc@remote.test>",
        in_reply_to="<prev@remote.test>",
        references=["<root@remote.test>", "<prev@remote.test>"],
        subject="Quarterly report",
        from_address="alice@remote.test",
        from_name="Alice",
        to=[{"name": "", "email": "bot@x.test"}],
        cc=[],
        reply_to=[],
        sent_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        headers=[["Subject", "Quarterly report"]],
        text="Hello\n\n  there",
        html="<p>Hello</p>",
        stripped_text="Hello   there",
        attachments=attachments or [],
        defects=[],
    )
    base.update(kw)
    return ParsedFields(**base)


@pytest.fixture
async def message_id(platform: Any, acme: Any, make_inbox: Any) -> str:
    inbox: Inbox = await make_inbox(acme.scope, "parsed")
    async with platform.begin() as session:
        env = InboundEnvelope(
            raw_sha256="b" * 64, size=1, envelope_from="", envelope_to=[inbox.address]
        )
        return messages.insert_inbound(session, inbox, env).id


async def _load(sm: Any, message_id: str) -> tuple[Message, list[Any]]:
    async with sm() as session:
        msg = await messages.get_for_pipeline(session, message_id)
        return msg, await messages.attachments_of(session, msg)


async def test_store_parsed_writes_fields_attachments_and_snippet(
    platform: Any, acme: Any, message_id: str
) -> None:
    fields = _fields(
        [_attachment("report.pdf"), _attachment("logo.png", inline=True, content_id="<logo>")]
    )
    async with platform.begin() as session:
        await store_parsed(session, message_id, fields)
    msg, atts = await _load(platform, message_id)
    assert (msg.subject, msg.from_address, msg.from_name) == (
        "Quarterly report",
        "alice@remote.test",
        "Alice",
    )
    assert msg.references == ["<root@remote.test>", "<prev@remote.test>"]
    assert msg.to == [{"name": "", "email": "bot@x.test"}]
    assert msg.sent_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert msg.snippet == "Hello there" and msg.has_attachments is True
    assert sorted((a.filename, a.inline, a.content_id, a.org_id) for a in atts) == [
        ("logo.png", True, "<logo>", acme.org.id),
        ("report.pdf", False, None, acme.org.id),
    ]


async def test_store_parsed_twice_leaves_one_set_of_attachments(
    platform: Any, message_id: str
) -> None:
    fields = _fields([_attachment("a.pdf"), _attachment("b.pdf")])
    for _ in range(2):  # a retried activity runs the whole write again in a new transaction
        async with platform.begin() as session:
            await store_parsed(session, message_id, fields)
    _, atts = await _load(platform, message_id)
    assert sorted(a.filename for a in atts) == ["a.pdf", "b.pdf"]


async def test_store_parsed_twice_in_one_session_leaves_one_set_of_attachments(
    platform: Any, message_id: str
) -> None:
    async with platform.begin() as session:
        await store_parsed(session, message_id, _fields([_attachment("a.pdf")]))
        await store_parsed(session, message_id, _fields([_attachment("a.pdf")]))
    _, atts = await _load(platform, message_id)
    assert [a.filename for a in atts] == ["a.pdf"]


async def test_store_parsed_replaces_attachments_when_retry_parses_differently(
    platform: Any, message_id: str
) -> None:
    async with platform.begin() as session:
        await store_parsed(session, message_id, _fields([_attachment("old1"), _attachment("old2")]))
    async with platform.begin() as session:
        await store_parsed(session, message_id, _fields([_attachment("new", inline=True)]))
    msg, atts = await _load(platform, message_id)
    assert [a.filename for a in atts] == ["new"]
    assert msg.has_attachments is False  # only an inline part remains


async def test_store_parsed_truncates_overlong_headers_to_column_sizes(
    platform: Any, message_id: str
) -> None:
    fields = _fields(
        [
            _attachment(
                "n" * 400 + ".pdf", content_type="x/" + "y" * 300, content_id="<" + "c" * 1200 + ">"
            )
        ],
        message_id_header="<" + "m" * 2000 + ">",
        in_reply_to="<" + "r" * 2000 + ">",
        references=[f"<{i}" + "x" * 1500 + ">" for i in range(150)],
        from_address="a" * 400 + "@remote.test",
        from_name="N" * 500,
        subject="S" * 5000,
        text="word " * 5000,
        stripped_text=None,
    )
    async with platform.begin() as session:  # on PostgreSQL an untruncated value would raise here
        await store_parsed(session, message_id, fields)
    msg, (att,) = await _load(platform, message_id)
    assert msg.message_id_header == fields.message_id_header[:998]
    assert msg.in_reply_to == fields.in_reply_to[:998]
    assert len(msg.references) == 100 and {len(r) for r in msg.references} == {998}
    assert (len(msg.from_address), len(msg.from_name)) == (320, 300)
    assert msg.subject == "S" * 5000  # TEXT: kept whole
    assert len(msg.snippet) == SNIPPET_LEN and msg.snippet.startswith("word word")
    assert (len(att.filename), len(att.content_type), len(att.content_id)) == (255, 255, 998)


async def test_store_parsed_keeps_earlier_analysis_and_records_defects(
    platform: Any, message_id: str
) -> None:
    async with platform.begin() as session:
        await session.execute(
            update(Message).where(Message.id == message_id).values(analysis={"category": "bounce"})
        )
    async with platform.begin() as session:
        await store_parsed(
            session, message_id, _fields(defects=["MissingHeaderBodySeparatorDefect"])
        )
    msg, _ = await _load(platform, message_id)
    assert msg.analysis == {"category": "bounce", "defects": ["MissingHeaderBodySeparatorDefect"]}


async def test_store_parsed_stores_empty_ids_as_null_and_sent_at_in_utc(
    platform: Any, message_id: str
) -> None:
    tokyo = timezone(timedelta(hours=9))
    fields = _fields(
        message_id_header="", in_reply_to=None, sent_at=datetime(2030, 1, 2, 9, 0, tzinfo=tokyo)
    )
    async with platform.begin() as session:
        await store_parsed(session, message_id, fields)
    msg, _ = await _load(platform, message_id)
    assert (msg.message_id_header, msg.in_reply_to) == (None, None)
    assert msg.sent_at == datetime(
        2030, 1, 2, 0, 0, tzinfo=UTC
    ) and msg.sent_at.utcoffset() == timedelta(0)
