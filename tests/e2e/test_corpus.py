"""Every file of the shared real-world corpus over SMTP: accepted (or cleanly refused when SMTP
itself cannot carry it), stored, and taken through the whole inbound pipeline to "done".

The corpus is byte-identical to upstream: LF, CRLF and CR-only line endings, 8-bit bytes, NULs,
broken MIME, even non-mail (gzip, zip, Outlook .msg). SMTP carries CRLF lines only, so every
file is normalised to CRLF the way any SMTP client must (aiosmtplib does the same); nothing
else is changed (the client dot-stuffs, the server un-stuffs).

The mail goes through the session's in-process ingress. The pipelines run on the session's
in-process worker plus worker OS processes on the same task queue, as production runs them
(a worker process apart from the ingress): one Python process holding the ingress, a worker,
the DNS fixture and the test client is bound to one core by the GIL, and a pipeline costs
~0.1 s of CPU, so 1,200 of them would take minutes there alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from settings import Settings
from store.models import Message
from tests.conftest import Tenant, create_inbox
from tests.helpers.activity_failures import ActivityFailures
from tests.helpers.processes import spawn_workers, stop

SKIP_SUFFIXES = {".json", ".md"}
SKIP_NAMES = {".gitattributes"}

CONNECTIONS = 8
# 4xx is "try again later" (e.g. 451 when the database is out of connections): a real MTA
# retries, so do we, a few times; a 4xx that persists fails the test.
TEMPORARY_RETRIES = 5
EXTRA_WORKERS = max(1, (os.cpu_count() or 2) - 1)
DONE_DEADLINE = 900.0  # from the last message accepted to the last pipeline done (a loaded machine)
STALL_DEADLINE = 90.0  # no pipeline finishing for this long means they are stuck

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
_FALLBACK_NAME = re.compile(r"attachment-\d+(\.\w+)?")
# Failures no retry may paper over: two pipelines locking each other out is a bug, not noise.
_LOCK_FAILURES = re.compile(r"deadlock|SerializationFailure|LockNotAvailable", re.IGNORECASE)
_QUEUED_AS = re.compile(r"queued as (\S+)")


def corpus_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in SKIP_SUFFIXES and p.name not in SKIP_NAMES
    )


# The ~925 bounce and complaint reports all go over SMTP through the whole pipeline in
# tests/outbound/test_deliverability_reports.py (which also checks what each one records);
# sending them a second time here would double the suite's longest step. Here: every other
# file, the reports SMTP must refuse, and every REPORT_SAMPLE-th report.
REPORT_DIRS = ("bounces/", "arf/")
REPORT_SAMPLE = 8


def sent_here(index: int, name: str) -> bool:
    return (not name.startswith(REPORT_DIRS) or name in EXPECTED_REJECTIONS
            or index % REPORT_SAMPLE == 0)  # fmt: skip


def to_smtp_lines(raw: bytes) -> bytes:
    """Bare LF and CR-only line endings to CRLF, ending with CRLF; every other byte kept."""
    data = _LINE_ENDINGS.sub(b"\r\n", raw)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def longest_wire_line(data: bytes) -> int:
    """Longest line as it travels in DATA: dot-stuffed, with its CRLF."""
    return max(len(line) + line.startswith(b".") + 2 for line in data.split(b"\r\n"))


def expectations(root: Path) -> dict[str, dict[str, Any]]:
    """The upstream values (expected.json) that map onto a stored message, by relative path."""
    out: dict[str, dict[str, Any]] = {}
    for folder in ("mail-parser", "cpython-email"):
        files = json.loads((root / folder / "expected.json").read_text())["files"]
        out.update({f"{folder}/{name}": exp for name, exp in files.items()})
    return out


def mismatches(name: str, exp: dict[str, Any], view: dict[str, Any]) -> list[str]:
    """Where the stored message (API view) disagrees with upstream's expectation."""
    got: dict[str, Any] = {}
    want: dict[str, Any] = {}
    attachments = view["attachments"]
    if "message_id" in exp:  # mail-parser
        want["message_id"], got["message_id"] = exp["message_id"].strip("<>"), view["message_id"]
    for key in ("subject", "from_address"):
        if key in exp:
            want[key] = exp[key]
            got[key] = view["subject"] if key == "subject" else view["from"]["email"]
    if "to_first_address" in exp:
        want["to_first_address"] = exp["to_first_address"]
        got["to_first_address"] = view["to"][0]["email"] if view["to"] else None
    if "from" in exp:
        want["from"], got["from"] = exp["from"], [[view["from"]["name"], view["from"]["email"]]]
    if "attachment_count" in exp:
        # mail-parser counts parts with a filename or a Content-ID; we also keep nameless
        # leaves, named attachment-{n} (tests/mailparse/test_parse_corpus.py explains).
        want["attachment_count"] = exp["attachment_count"]
        got["attachment_count"] = sum(
            1 for a in attachments if a["content_id"] or not _FALLBACK_NAME.fullmatch(a["filename"])
        )
    headers = exp.get("headers") if name.startswith("cpython-email/") else None
    if isinstance(headers, dict) and "from" in headers:  # cpython
        want["from"], got["from"] = headers["from"], view["from"]["email"]
        want["to"], got["to"] = [headers["to"]], [a["email"] for a in view["to"]]
    if "part_filenames" in exp:
        want["filenames"], got["filenames"] = exp["part_filenames"], [a["filename"] for a in attachments]
    if "part_1_filename" in exp:
        want["first filename"] = exp["part_1_filename"]
        got["first filename"] = attachments[0]["filename"] if attachments else None
    return [f"{name}: {k} {got[k]!r} != expected {want[k]!r}" for k in want if got[k] != want[k]]


@dataclass
class Outcome:
    accepted: dict[str, str] = field(default_factory=dict)  # relative path -> message id
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # drops, timeouts, odd replies
    retried: Counter[str] = field(default_factory=Counter)  # 4xx answers, retried


async def _connect(port: int) -> aiosmtplib.SMTP:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
    await smtp.connect()
    return smtp


async def send_batch(port: int, rcpt: str, batch: list[tuple[str, bytes]], out: Outcome) -> None:
    """One SMTP connection per batch; a refused message leaves the session usable for the next."""
    smtp = await _connect(port)
    try:
        for name, data in batch:
            for attempt in range(TEMPORARY_RETRIES + 1):
                try:
                    _, reply = await smtp.sendmail("corpus@sender.test", [rcpt], data)
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    code, text = exc.recipients[0].code, exc.recipients[0].message
                except aiosmtplib.SMTPResponseException as exc:
                    code, text = exc.code, exc.message
                except (aiosmtplib.SMTPException, OSError) as exc:
                    out.broken[name] = f"{type(exc).__name__}: {exc}"
                    smtp.close()  # the connection is gone: a new one for the rest
                    smtp = await _connect(port)
                    break
                else:
                    found = _QUEUED_AS.search(reply)
                    if not reply.startswith("2.0.0") or not found or "," in found.group(1):
                        out.broken[name] = f"unexpected reply {reply!r}"
                    else:
                        out.accepted[name] = found.group(1)
                    break
                if 400 <= code < 500 and attempt < TEMPORARY_RETRIES:
                    out.retried[f"{code} {text}"] += 1
                    await asyncio.sleep(1.0 + attempt)
                    continue
                out.rejected[name] = (code, text)
                break
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


async def wait_until_done(sessionmaker: Any, inbox_id: str, expected: int) -> dict[str, str]:
    """Poll until `expected` rows are all done, the deadline passes or progress stalls."""
    states: dict[str, str] = {}
    started = progressed = time.monotonic()
    best = -1
    while True:
        states = await pipeline_states(sessionmaker, inbox_id)
        done = sum(s == "done" for s in states.values())
        if len(states) == expected and done == expected:
            return states
        now = time.monotonic()
        if done > best:
            best, progressed = done, now
        if now - started > DONE_DEADLINE or now - progressed > STALL_DEADLINE:
            return states
        await asyncio.sleep(0.5)


async def workflows_finished(client: Any, task_queue: str, within: float = 300.0) -> None:
    """Until no InboundMail workflow of the queue is running (or `within` passed)."""
    query = (f"TaskQueue = '{task_queue}' AND WorkflowType = 'InboundMail' "
             "AND ExecutionStatus = 'Running'")  # fmt: skip
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and (await client.count_workflows(query)).count:
        await asyncio.sleep(1.0)


# A safety net only: on a loaded machine the ingest alone can take minutes; the deadlines
# above give the useful failure messages.
@pytest.mark.timeout(1500)
async def test_every_corpus_file_is_stored_and_processed_when_sent_over_smtp(
    corpus_dir: Path, api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any,
    sessionmaker: Any, settings: Settings, tmp_path: Path, temporal_env: Any,
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
    payloads = [(name, data) for i, (name, data) in enumerate(payloads) if sent_here(i, name)]

    workers = spawn_workers(settings, EXTRA_WORKERS, tmp_path)
    failures = ActivityFailures()
    activity_log = logging.getLogger("temporalio.activity")
    activity_log.addHandler(failures)
    smtp_log = logging.getLogger("mail.log")  # aiosmtpd logs every command at INFO
    smtp_level = smtp_log.level
    smtp_log.setLevel(logging.WARNING)
    out = Outcome()
    try:
        # Round-robin, so the big files spread over the connections.
        batches = [payloads[i::CONNECTIONS] for i in range(CONNECTIONS)]
        started = time.monotonic()
        await asyncio.gather(*(send_batch(ingress.port, inbox["address"], b, out) for b in batches))
        smtp_seconds = time.monotonic() - started

        assert not out.broken, f"connections dropped or odd replies: {out.broken}"
        assert {n: c for n, (c, _) in out.rejected.items()} == {
            n: c for n, (c, _) in EXPECTED_REJECTIONS.items()
        }, out.rejected
        assert all("Line too long" in text for _, text in out.rejected.values()), out.rejected
        assert len(out.accepted) + len(out.rejected) == len(payloads)
        assert len(set(out.accepted.values())) == len(out.accepted), "a message id was reused"

        states = await wait_until_done(sessionmaker, inbox["id"], len(out.accepted))
        total_seconds = time.monotonic() - started
        # `done` is written by authenticate; later steps (reports, search indexing) still run.
        # The workers are stopped once no pipeline runs, so a clean stop is a fair demand.
        await workflows_finished(temporal_env.client, settings.task_queue)
        workers_alive = [w.poll() is None for w in workers]
    finally:
        activity_log.removeHandler(failures)
        smtp_log.setLevel(smtp_level)
        worker_codes = stop(workers)
        failures.read_logs([tmp_path / f"worker-{i}.log" for i in range(len(workers))])

    print(
        f"\ncorpus: {len(files)} files, {len(payloads)} sent, {len(out.accepted)} accepted, "
        f"{len(out.rejected)} refused "
        f"(line too long), 4xx retried: {dict(out.retried)}; SMTP ingest {smtp_seconds:.1f}s "
        f"({len(payloads) / smtp_seconds:.1f} msg/s); pipelines {dict(Counter(states.values()))} "
        f"after {total_seconds:.1f}s (1 in-process + {len(workers)} worker processes); "
        f"activity failures: {failures.summary()}"
    )
    file_of = {mid: name for name, mid in out.accepted.items()}
    not_done = {
        file_of.get(mid, mid): f"{state}, last failure: {failures.last.get(f'InboundMail/{mid}')}"
        for mid, state in sorted(states.items()) if state != "done"
    }  # fmt: skip
    assert not not_done, (
        f"{len(not_done)} pipelines not done {total_seconds - smtp_seconds:.0f}s after the "
        f"last message was accepted (deadline {DONE_DEADLINE:.0f}s, or {STALL_DEADLINE:.0f}s "
        f"without progress); activity failures: {failures.summary()}; per file: {not_done}"
    )
    assert set(states) == set(out.accepted.values()), "stored rows differ from accepted messages"
    async with sessionmaker() as s:
        count = await s.scalar(
            select(func.count()).select_from(Message).where(Message.inbox_id == inbox["id"])
        )
    assert count == len(out.accepted)

    # Retries hid nothing: no pipeline failed on a lock conflict with another one.
    locks = {kind: n for kind, n in failures.kinds.items() if _LOCK_FAILURES.search(kind)}
    assert not locks, f"lock conflicts between pipelines: {locks}"

    # Every stored message is readable through the API, fully processed, with the very bytes
    # that were sent, and agrees with upstream's expectations where expected.json has them.
    expected = expectations(corpus_dir)
    sent = dict(payloads)
    limit = asyncio.Semaphore(16)
    checked: list[str] = []

    async def read(name: str, mid: str) -> list[str]:
        async with limit:
            r = await api.get(f"/v1/messages/{mid}", headers=tenant.headers)
            raw = await api.get(f"/v1/messages/{mid}/raw", headers=tenant.headers)
        if r.status_code != 200:
            return [f"{name}: {r.status_code} {r.text[:300]}"]
        body = r.json()
        if body["id"] != mid or body["pipeline_state"] != "done" or body["thread_id"] is None:
            return [f"{name}: {body['pipeline_state']} thread={body['thread_id']}"]
        if raw.status_code != 200 or raw.content != sent[name]:
            return [f"{name}: raw {raw.status_code}, {len(raw.content)} bytes != sent {len(sent[name])}"]
        if name in expected:
            checked.append(name)
            return mismatches(name, expected[name], body)
        return []

    reads = await asyncio.gather(*(read(n, m) for n, m in out.accepted.items()))
    problems = [p for found in reads for p in found]
    assert not problems, problems
    # The expectations were really applied (files expected.json has values for, all accepted).
    assert len(checked) >= 60, sorted(checked)
    assert all(workers_alive), f"a worker process died: {worker_codes}"
    assert worker_codes == [0] * len(workers), f"workers did not stop cleanly: {worker_codes}"
