"""mailparse.reports: VERP addresses, RFC 3464 DSNs from KumoMTA's snapshots, non-report
mail, and robustness on hostile bytes. Corpus-wide bounce checks are in
test_reports_corpus.py, complaint (ARF) checks in test_reports_arf.py."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from mailparse.reports import (  # _classify: the parser without the last-resort guard
    BounceReport,
    ComplaintReport,
    _classify,
    build_verp,
    classify_report,
    parse_verp,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
if not (CORPUS / "MANIFEST.md").is_file():
    # Fail the collection loudly: silently parametrizing over nothing would pass.
    raise FileNotFoundError(f"shared mail corpus not found at {CORPUS}")

BOUNCES = json.loads((CORPUS / "bounces" / "expected.json").read_text())["files"]
KUMOMTA = sorted(k for k in BOUNCES if k.startswith("kumomta/"))

# Files of the general-purpose corpora that are themselves delivery reports (their own
# Content-Type or MAILER-DAEMON sender says so); everything else there is ordinary mail.
_REPORTS_IN_GENERAL_CORPORA = {
    "cpython-email/msg_16.txt",
    "cpython-email/msg_25.txt",
    "cpython-email/msg_43.txt",
    "mail-parser/mail_malformed_2",
}
ORDINARY = sorted(
    str(p.relative_to(CORPUS))
    for folder in ("cpython-email", "mail-parser", "mikel-mail/rfc2822", "mikel-mail/plain_emails")
    for p in (CORPUS / folder).iterdir()
    if p.is_file()
    and p.suffix != ".json"
    and str(p.relative_to(CORPUS)) not in _REPORTS_IN_GENERAL_CORPORA
)


def _bounce(raw: bytes) -> BounceReport:
    report = classify_report(raw)
    assert isinstance(report, BounceReport), report
    return report


# --- VERP ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "recipient",
    ["jane@example.com", "jane.doe+tag@Example.COM", "a-b=c@sub.example.co.uk", "x_y@b.io"],
)
def test_parse_verp_round_trips_build_verp(recipient: str) -> None:
    address = build_verp("msg_01HX3QK9Z7", recipient, "mail.postflow.dev")
    local, _, domain = recipient.rpartition("@")
    assert parse_verp(address) == ("msg_01HX3QK9Z7", f"{local}@{domain.lower()}")


def test_parse_verp_accepts_angle_brackets_and_other_separator() -> None:
    address = build_verp("msg_1", "jane@example.com", "pf.example", separator="-")
    assert address == "bounces-msg_1-jane=example.com@pf.example"
    assert parse_verp(f" <{address}> ", separator="-") == ("msg_1", "jane@example.com")


@pytest.mark.parametrize(
    "address",
    [
        "jane@example.com",  # not a return path at all
        "bounces@pf.example",  # our prefix without a token
        "bounces+msg_1@pf.example",  # no encoded recipient
        "bounces+msg_1-jane.example.com@pf.example",  # recipient without "="
        "bounces+msg.1-jane=example.com@pf.example",  # token with a character ids never have
        "bounces+-jane=example.com@pf.example",  # empty token
        "bounces+msg_1-=example.com@pf.example",  # empty local part
        "bounces+msg_1-jane=localhost@pf.example",  # recipient domain without a dot
        "list-bounces+msg_1-jane=example.com@pf.example",  # someone else's prefix
        "",
    ],
)
def test_parse_verp_returns_none_when_not_ours(address: str) -> None:
    assert parse_verp(address) is None


# --- RFC 3464 DSNs (KumoMTA parser snapshots) ---------------------------------------------


@pytest.mark.parametrize("key", KUMOMTA)
def test_classify_report_matches_kumomta_status_and_action(key: str) -> None:
    expected = BOUNCES[key]
    report = _bounce((CORPUS / "bounces" / key).read_bytes())
    got = [(r.action, r.status) for r in report.recipients]
    assert got == [(r["action"], r["status"]) for r in expected["recipients"]]


@pytest.mark.parametrize("key", KUMOMTA)
def test_classify_report_matches_kumomta_recipients_and_mta(key: str) -> None:
    expected = BOUNCES[key]
    report = _bounce((CORPUS / "bounces" / key).read_bytes())
    assert report.reporting_mta == expected["reporting_mta"]["name"]
    for got, want in zip(report.recipients, expected["recipients"], strict=True):
        # Original-Recipient is preferred (it is what the sender wrote); kumomta/3 names an
        # X.400-style "unknown; nair_s" recipient, which is not an address.
        named = want["original_recipient"] or want["final_recipient"]
        if named["recipient_type"] == "rfc822":
            local, _, domain = named["recipient"].rpartition("@")
            assert got.email == f"{local}@{domain.lower()}"
        else:
            assert got.email == ""
        diagnostic = want["diagnostic_code"]
        if diagnostic is not None:
            assert got.diagnostic == " ".join(diagnostic["diagnostic"].split())


def test_classify_report_marks_user_unknown_hard_and_over_quota_soft() -> None:
    unknown = _bounce((CORPUS / "bounces/kumomta/obsolete_arrival_date.eml").read_bytes())
    assert [(r.reply_code, r.hard) for r in unknown.recipients] == [("550", True)]
    over_quota = _bounce((CORPUS / "bounces/kumomta/5.eml").read_bytes())
    assert [(r.reply_code, r.hard) for r in over_quota.recipients] == [("552", False)]
    # RFC 3464's own example: two unknown users and one delay, which is never hard.
    mixed = _bounce((CORPUS / "bounces/kumomta/2.eml").read_bytes())
    assert [(r.action, r.hard) for r in mixed.recipients] == [
        ("failed", True),  # "550 'arathib@vnet.IBM.COM' is not a registered gateway user"
        ("delayed", False),
        ("failed", True),  # "550 user unknown"
    ]


def test_classify_report_finds_original_message_id_in_attached_message() -> None:
    report = _bounce((CORPUS / "bounces/flufl/dsn_10.txt").read_bytes())
    assert report.original_message_id is not None
    assert "<" not in report.original_message_id and "@" in report.original_message_id


def test_classify_report_reads_plain_text_bounce_and_its_quoted_original() -> None:
    # qmail: no MIME structure at all; the original is quoted after a marker line.
    report = _bounce((CORPUS / "bounces/sisimai/bsd/lhost-qmail-01.eml").read_bytes())
    assert report.original_message_id == "000000000.9999999999999.JavaMail.postmaster@mailhub"
    assert [(r.email, r.action, r.status, r.reply_code, r.hard) for r in report.recipients] == [
        ("kijitora@example.ne.jp", "failed", "5.5.0", "550", True)  # "550 Unknown user"
    ]


def test_classify_report_infers_soft_status_for_codeless_mailbox_full() -> None:
    report = _bounce((CORPUS / "bounces/flufl/simple_07.txt").read_bytes())
    assert [(r.email, r.action, r.status, r.hard) for r in report.recipients] == [
        ("userx@example.net", "failed", "5.2.2", False)  # "User's mailbox is full: <...>"
    ]


def test_classify_report_marks_warning_only_bounce_delayed() -> None:
    report = _bounce((CORPUS / "bounces/flufl/simple_03.txt").read_bytes())
    assert [(r.email, r.action, r.hard) for r in report.recipients] == [
        ("userx@example.za", "delayed", False)
    ]


def test_classify_report_reads_mimekit_dsn_layout_variants() -> None:
    # No blank line before the recipient group (MimeKit issue 250) and extra blank lines
    # between groups (issue 855) must still yield one failed recipient each.
    for name, email in [
        ("delivery-status-no-blank-line.txt", "newsletter-request@imusic.com"),
        ("delivery-status-multiple-blank-lines.txt", "orig_recip@customer.com"),
        ("delivery-status2.txt", "source@domain.com"),
    ]:
        report = _bounce((CORPUS / "mimekit/messages" / name).read_bytes())
        assert [(r.email, r.action) for r in report.recipients] == [(email, "failed")], name


# --- ordinary mail and hostile input ------------------------------------------------------


@pytest.mark.parametrize("key", ORDINARY)
def test_classify_report_returns_none_for_ordinary_mail(key: str) -> None:
    assert classify_report((CORPUS / key).read_bytes()) is None


def test_classify_report_returns_none_when_a_person_mentions_a_failed_delivery() -> None:
    # Bounce-like subject and wording, but a person wrote it: no DSN part, no daemon sender,
    # no recipient layout an MTA prints.
    raw = (
        b"From: Jane <jane@example.com>\r\nTo: ops@example.org\r\n"
        b"Subject: Error with last week's mailing\r\n\r\n"
        b"Hi, the newsletter could not be delivered to bob@example.net, can you check?\r\n"
    )
    assert classify_report(raw) is None


def _mutations(seed: int) -> list[bytes]:
    """Truncated, bit-flipped and spliced copies of real reports (deterministic)."""
    rng = random.Random(seed)
    sources = [
        (CORPUS / "bounces/kumomta/2.eml").read_bytes(),
        (CORPUS / "bounces/flufl/qmail_01.txt").read_bytes(),
        (CORPUS / "arf/kumomta/2.eml").read_bytes(),
        (CORPUS / "bounces/sisimai/bsd/lhost-amazonses-10.eml").read_bytes(),
    ]
    out: list[bytes] = []
    for _ in range(60):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.randrange(len(data))
        out.append(bytes(data[:cut]) + rng.choice(sources)[rng.randrange(100) :])
    return out


@pytest.mark.parametrize("seed", range(5))
def test_classify_report_never_raises_on_mutated_reports(seed: int) -> None:
    for raw in _mutations(seed):
        # The unguarded parser, so a crash is not hidden by classify_report's last-resort
        # exception handler.
        report = _classify(raw)
        assert report is None or report.kind in ("bounce", "complaint")


_HEADER = b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
_HOSTILE: dict[str, bytes] = {
    "empty": b"",
    "nul_bytes": b"\x00" * 10_000,
    "random_bytes": random.Random(7).randbytes(200_000),
    "bom_only": b"\xef\xbb\xbf",
    "one_long_line": _HEADER + b"\r\n" + b"a" * 100_000,
    "at_signs": _HEADER + b"\r\n" + b"a@" * 100_000,
    "dash_domain": _HEADER + b"\r\n" + b"a@" + b"a-" * 100_000,
    "status_lookalikes": _HEADER + b"\r\n" + b"5." * 100_000,
    "tag_flood": _HEADER + b"Content-Type: text/html\r\n\r\n" + b"<script>" * 50_000,
    "header_flood": b"".join(b"X-H%d: v\r\n" % i for i in range(30_000)) + b"\r\nbody",
    "recipient_flood": _HEADER
    + b"\r\n"
    + b"".join(b"<u%d@x.example>: 550 5.1.1 unknown\r\n" % i for i in range(20_000)),
    "nested_multipart": b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    + b"--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" * 3_000,
}


@pytest.mark.parametrize("name", sorted(_HOSTILE))
def test_classify_report_stays_fast_and_safe_on_hostile_input(name: str) -> None:
    started = time.perf_counter()
    report: Any = _classify(_HOSTILE[name])
    elapsed = time.perf_counter() - started
    assert report is None or report.kind in ("bounce", "complaint")
    if isinstance(report, BounceReport):
        assert len(report.recipients) <= 1000
    # Every heuristic is linear; quadratic regex backtracking would take many seconds here.
    assert elapsed < 2.0, f"{name} took {elapsed:.2f}s"


def test_classify_report_never_raises_on_real_world_oddities() -> None:
    for path in [
        CORPUS / "mail-parser/mail_outlook_1",  # binary Outlook .msg, not RFC 5322
        CORPUS / "mimekit/messages/stack-overflow.txt",  # pathological nesting
    ]:
        assert not isinstance(_classify(path.read_bytes()), ComplaintReport)
