"""Time-ordered prefixed ids (the keyset cursors) and the content-addressed blob directory."""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path
from typing import Any

import pytest

from store import audit
from store.base import new_id
from store.blobs import BlobStore
from store.models import AuditEntry

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _next_millisecond() -> None:
    start = int(time.time() * 1000)
    while int(time.time() * 1000) == start:
        time.sleep(0.0002)


def _timestamp_ms(id_: str) -> int:
    body = id_.split("_", 1)[1]
    value = 0
    for ch in body:
        value = value * 32 + CROCKFORD.index(ch)
    return value >> 80


# --- ids (no database) -----------------------------------------------------------------------


def test_new_id_has_prefix_and_26_crockford_chars() -> None:
    for prefix in ("msg", "inb", "org"):
        value = new_id(prefix)
        head, body = value.split("_", 1)
        assert head == prefix and len(body) == 26
        assert set(body) <= set(CROCKFORD)


def test_new_id_embeds_creation_millisecond() -> None:
    before = int(time.time() * 1000)
    value = new_id("msg")
    after = int(time.time() * 1000)
    assert before <= _timestamp_ms(value) <= after


def test_new_id_sorts_greater_when_generated_in_later_millisecond() -> None:
    # Many trials: the 80 random bits must never outweigh a later timestamp.
    for _ in range(200):
        earlier = new_id("msg")
        _next_millisecond()
        later = new_id("msg")
        assert later > earlier, (earlier, later)


def test_new_id_is_unique_within_one_millisecond() -> None:
    values = [new_id("msg") for _ in range(20_000)]
    assert len(set(values)) == len(values)


# --- ids in the database: ORDER BY id (collation included) follows creation time ----------


async def test_paginated_ids_come_back_newest_first_from_database(platform: Any, acme: Any) -> None:
    created = []
    for _ in range(23):
        created.append(new_id("aud"))
        _next_millisecond()
    assert created == sorted(created)
    shuffled = created[:]
    random.Random(7).shuffle(shuffled)  # insertion order must not matter
    async with platform.begin() as session:
        session.add_all(
            AuditEntry(id=aud_id, org_id=acme.org.id, actor_type="system", action="test")
            for aud_id in shuffled
        )
    listed: list[str] = []
    after = None
    async with platform() as session:
        while True:
            page = await audit.list_entries(session, acme.org.id, limit=5, after=after)
            listed += [e.id for e in page.items]
            if page.next_after is None:
                break
            after = page.next_after
    assert listed == list(reversed(created))


# --- blobs -----------------------------------------------------------------------------------


def test_blob_put_returns_sha256_and_get_returns_bytes(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    data = b"From: a@example.test\r\n\r\nhello\r\n"
    digest = blobs.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert blobs.path_for(digest) == tmp_path / digest[:2] / digest[2:4] / digest
    assert blobs.get(digest) == data and blobs.exists(digest)
    assert (
        blobs.put(b"") == hashlib.sha256(b"").hexdigest()
        and blobs.get(hashlib.sha256(b"").hexdigest()) == b""
    )


def test_blob_put_is_idempotent_when_content_repeats(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    first = blobs.put(b"same bytes")
    mtime = blobs.path_for(first).stat().st_mtime_ns
    assert blobs.put(b"same bytes") == first
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [blobs.path_for(first)]  # one file, no temporary leftovers
    assert blobs.path_for(first).stat().st_mtime_ns == mtime
    assert blobs.put(b"other bytes") != first


def test_blob_exists_and_get_when_missing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not blobs.exists(missing)
    with pytest.raises(FileNotFoundError):
        blobs.get(missing)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "../" * 21 + "a",  # 64 characters, still a traversal
        "/" + "a" * 63,
        "a" * 62 + "/.",
        "A" * 64,  # upper-case hex is not what put() produces
        "g" * 64,
        "a" * 63,
        "a" * 65,
        "a" * 63 + "\x00",
        "",
    ],
)
def test_blob_path_for_rejects_non_hex_names(tmp_path: Path, name: str) -> None:
    blobs = BlobStore(tmp_path)
    with pytest.raises(ValueError):
        blobs.path_for(name)
    with pytest.raises(ValueError):
        blobs.get(name)
    with pytest.raises(ValueError):
        blobs.exists(name)


def test_ids_made_one_after_another_sort_in_that_order() -> None:
    from store.base import new_id

    ids = [new_id("evt") for _ in range(2000)]  # many share a millisecond
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
