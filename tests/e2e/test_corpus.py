"""Every file of the shared real-world corpus over SMTP: accepted (or cleanly refused when SMTP
itself cannot carry it), stored, and taken through the whole inbound pipeline to "done".

The corpus is byte-identical to upstream: LF, CRLF and CR-only line endings, 8-bit bytes, NULs,
broken MIME, even non-mail (gzip, zip, Outlook .msg). SMTP carries CRLF lines only, so every
file is normalised to CRLF the way any SMTP client must (aiosmtplib does the same); nothing
else is changed (the client dot-stuffs, the server un-stuffs).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib
from httpx import AsyncClient
from sqlalchemy import func, select

from store.models import Message
from tests.conftest import Tenant, create_inbox

SKIP_SUFFIXES = {".json", ".md"}
SKIP_NAMES = {".gitattributes"}

CONNECTIONS = 8
DONE_DEADLINE = 240.0

# aiosmtpd refuses DATA containing a line longer than RFC 5321's 1000 octets (998 + CRLF; it
# allows 1001 with the CRLF) with "500 Line too long" — a clean SMTP refusal, not a crash. Real
# MTAs fold or re-encode such lines before relaying; these files hold them verbatim.
LINE_TOO_LONG = "line longer than RFC 5321 4.5.3.1.6 allows (aiosmtpd line_length_limit 1001)"
EXPECTED_REJECTIONS: dict[str, tuple[int, str]] = {
    **{
        f"bounces/sisimai/bsd/lhost-amazonses-{n}.eml": (500, LINE_TOO_LONG)
        for n in ("09", "10", "11", "12", "13")
    },
    **{f"bounces/sisimai/bsd/lhost-gmx-0{n}.eml": (500, LINE_TOO_LONG) for n in (1, 2, 3, 4)},
    "bounces/sisimai/dos/lhost-gmx-01.eml": (500, LINE_TOO_LONG),
    "bounces/sisimai/mac/lhost-gmx-01.eml": (500, LINE_TOO_LONG),
    # A binary Outlook .msg (CFB), not RFC 5322: its "lines" run to 11 KB.
    "mail-parser/mail_outlook_1": (500, LINE_TOO_LONG),
    # A 5000-character line, on purpose (MimeKit issue 1189).
    "mimekit/mbox/issue1189.mbox.txt": (500, LINE_TOO_LONG),
}

_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")
_QUEUED_AS = re.compile(r"queued as (\S+)")


def corpus_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in SKIP_SUFFIXES and p.name not in SKIP_NAMES
    )


def to_smtp_lines(raw: bytes) -> bytes:
    """Bare LF and CR-only line endings to CRLF, ending with CRLF; every other byte kept."""
    data = _LINE_ENDINGS.sub(b"\r\n", raw)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def longest_wire_line(data: bytes) -> int:
    """Longest line as it travels in DATA: dot-stuffed, with its CRLF."""
    return max(len(line) + line.startswith(b".") + 2 for line in data.split(b"\r\n"))


@dataclass
class Outcome:
    accepted: dict[str, str] = field(default_factory=dict)  # relative path -> message id
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # drops, timeouts, odd replies


async def send_batch(
    port: int, rcpt: str, batch: list[tuple[str, bytes]], out: Outcome
) -> None:
    """One SMTP connection per batch; a refused message leaves the session usable for the next."""
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
    await smtp.connect()
    try:
        for name, data in batch:
            try:
                _, reply = await smtp.sendmail("corpus@sender.test", [rcpt], data)
            except aiosmtplib.SMTPResponseException as exc:
                out.rejected[name] = (exc.code, exc.message)
                continue
            except (aiosmtplib.SMTPException, OSError) as exc:
                out.broken[name] = f"{type(exc).__name__}: {exc}"
                # The connection is gone: open a new one for the rest of the batch.
                smtp.close()
                smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
                await smtp.connect()
                continue
            found = _QUEUED_AS.search(reply)
            if not reply.startswith("2.0.0") or not found or "," in found.group(1):
                out.broken[name] = f"unexpected reply {reply!r}"
            else:
                out.accepted[name] = found.group(1)
    finally:
        if smtp.is_connected:
            try:
                await smtp.quit()
            except aiosmtplib.SMTPException:
                smtp.close()


async def pipeline_states(sessionmaker: Any, inbox_id: str) -> dict[str, str]:
    async with sessionmaker() as s:
        rows = await s.execute(
            select(Message.id, Message.pipeline_state).where(Message.inbox_id == inbox_id)
        )
        return {mid: state for mid, state in rows.all()}


async def test_every_corpus_file_is_stored_and_processed_when_sent_over_smtp(
    corpus_dir: Path, api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any,
    sessionmaker: Any,
) -> None:  # fmt: skip
    files = corpus_files(corpus_dir)
    assert len(files) > 1000, f"only {len(files)} corpus files under {corpus_dir}"
    inbox = await create_inbox(api, tenant, local_part=f"corpus-{uuid.uuid4().hex[:6]}")

    payloads = [(str(p.relative_to(corpus_dir)), to_smtp_lines(p.read_bytes())) for p in files]
    # The rejection list is exactly the files whose lines SMTP cannot carry, so it stays honest.
    too_long = {name for name, data in payloads if longest_wire_line(data) > 1001}
    assert too_long == set(EXPECTED_REJECTIONS), (
        sorted(too_long - set(EXPECTED_REJECTIONS)),
        sorted(set(EXPECTED_REJECTIONS) - too_long),
    )

    # Round-robin, so the big files spread over the connections.
    batches = [payloads[i::CONNECTIONS] for i in range(CONNECTIONS)]
    out = Outcome()
    started = time.monotonic()
    await asyncio.gather(*(send_batch(ingress.port, inbox["address"], b, out) for b in batches))
    smtp_seconds = time.monotonic() - started

    assert not out.broken, f"connections dropped or odd replies: {out.broken}"
    assert {n: c for n, (c, _) in out.rejected.items()} == {
        n: c for n, (c, _) in EXPECTED_REJECTIONS.items()
    }, out.rejected
    assert all("Line too long" in msg for _, msg in out.rejected.values()), out.rejected
    assert len(out.accepted) + len(out.rejected) == len(files)
    assert len(set(out.accepted.values())) == len(out.accepted), "a message id was reused"

    # Every accepted message's pipeline reaches "done" (3 local activities per message).
    file_of = {mid: name for name, mid in out.accepted.items()}
    states: dict[str, str] = {}
    while time.monotonic() - started < DONE_DEADLINE:
        states = await pipeline_states(sessionmaker, inbox["id"])
        if len(states) == len(out.accepted) and all(s == "done" for s in states.values()):
            break
        await asyncio.sleep(0.5)
    total_seconds = time.monotonic() - started
    print(
        f"\ncorpus: {len(files)} files, {len(out.accepted)} accepted, {len(out.rejected)} refused "
        f"(line too long); SMTP ingest {smtp_seconds:.1f}s ({len(files) / smtp_seconds:.0f} msg/s), "
        f"all pipelines done after {total_seconds:.1f}s; states {dict(Counter(states.values()))}"
    )
    not_done = {file_of.get(mid, mid): s for mid, s in states.items() if s != "done"}
    assert not not_done, f"pipelines not done after {DONE_DEADLINE:.0f}s: {not_done}"
    assert set(states) == set(out.accepted.values()), "stored rows differ from accepted messages"

    async with sessionmaker() as s:
        count = await s.scalar(
            select(func.count()).select_from(Message).where(Message.inbox_id == inbox["id"])
        )
    assert count == len(out.accepted)

    # Every stored message is readable through the API, fully processed.
    limit = asyncio.Semaphore(16)

    async def read(name: str, mid: str) -> str | None:
        async with limit:
            r = await api.get(f"/v1/messages/{mid}", headers=tenant.headers)
        if r.status_code != 200:
            return f"{name}: {r.status_code} {r.text[:300]}"
        body = r.json()
        if body["id"] != mid or body["pipeline_state"] != "done" or body["thread_id"] is None:
            return f"{name}: {body['pipeline_state']} thread={body['thread_id']}"
        return None

    problems = [p for p in await asyncio.gather(*(read(n, m) for n, m in out.accepted.items())) if p]
    assert not problems, problems
