"""classify_report on feedback-loop complaints (ARF, RFC 5965, and providers' non-standard
forms) and on Amazon SES notifications, against shared/corpus/arf/expected.json and the
SES files of the sisimai set."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailparse.reports import (
    SUPPRESSING_FEEDBACK_TYPES,
    BounceReport,
    ComplaintReport,
    classify_report,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
if not (CORPUS / "arf" / "expected.json").is_file():
    # Fail the collection loudly: silently parametrizing over nothing would pass.
    raise FileNotFoundError(f"shared mail corpus not found at {CORPUS}")

EXPECTED: dict[str, dict] = json.loads((CORPUS / "arf" / "expected.json").read_text())["files"]
SISIMAI = sorted(k for k in EXPECTED if k.startswith("sisimai/"))
MAIL_AUTH = sorted(k for k in EXPECTED if k.startswith("mail-auth/"))
KUMOMTA = sorted(k for k in EXPECTED if k.startswith("kumomta/"))
# Reports that redact the complaining recipient everywhere (no Original-Rcpt-To, original
# addressed to "Undisclosed Recipients"); sisimai lists a placeholder recipient for them.
_REDACTED = {"sisimai/bsd/arf-11.eml", "sisimai/bsd/arf-15.eml"}


def _complaint(key: str) -> ComplaintReport:
    report = classify_report((CORPUS / "arf" / key).read_bytes())
    assert isinstance(report, ComplaintReport), report
    return report


@pytest.mark.parametrize("key", SISIMAI)
def test_classify_report_matches_sisimai_feedback_type_and_recipients(key: str) -> None:
    report = _complaint(key)
    wanted = EXPECTED[key]["recipients"]
    assert {report.feedback_type} == {r["feedback_type"] for r in wanted}
    if key in _REDACTED:
        assert report.complainant_addresses == ()
    else:
        assert len(report.complainant_addresses) == len(wanted)
        assert all("@" in a for a in report.complainant_addresses)


@pytest.mark.parametrize("key", ["sisimai/dos/arf-01.eml", "sisimai/mac/arf-01.eml"])
def test_classify_report_reads_arf_with_crlf_or_cr_line_endings(key: str) -> None:
    assert _complaint(key) == _complaint("sisimai/bsd/arf-01.eml")


def _kebab(name: str) -> str:
    """mail-auth's enum spelling ("AuthFailure") as the ARF token ("auth-failure")."""
    return "".join(f"-{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


@pytest.mark.parametrize("key", MAIL_AUTH)
def test_classify_report_matches_mail_auth_summary(key: str) -> None:
    want = EXPECTED[key]["summary"]
    report = _complaint(key)
    assert report.feedback_type == _kebab(want["feedback_type"])
    assert report.user_agent == want["user_agent"]
    assert report.source_ip == want["source_ip"]
    if want["original_rcpt_to"] is not None:
        assert report.complainant_addresses == (want["original_rcpt_to"].strip("<>"),)
    if want["arrival_date"] is None:
        assert report.arrival_date is None
    else:
        stamp = datetime.fromtimestamp(want["arrival_date"], tz=UTC)
        assert report.arrival_date == stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("key", KUMOMTA)
def test_classify_report_matches_kumomta_feedback_report(key: str) -> None:
    want = EXPECTED[key]
    report = _complaint(key)
    assert report.feedback_type == want["feedback_type"]
    assert report.user_agent == want["user_agent"]
    assert report.source_ip == want["source_ip"]
    assert list(report.complainant_addresses) == want["original_rcpt_to"]
    # KumoMTA cannot parse the zone "EDT" and leaves 2.eml's date empty; we can.
    if want["arrival_date"] is not None:
        assert report.arrival_date == want["arrival_date"]


def test_classify_report_takes_message_id_from_the_attached_original() -> None:
    # The RFC 5965 example has a stray blank line that pushes Message-ID into the body.
    for key in ("kumomta/2.eml", "mail-auth/002.eml"):
        assert _complaint(key).original_message_id == "8787KJKJ3K4J3K4J3K4J3.mail@example.net"


def test_classify_report_reads_mimekit_feedback_report_with_byte_order_mark() -> None:
    raw = (CORPUS / "mimekit/messages/feedback-report.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    report = classify_report(raw)
    assert isinstance(report, ComplaintReport)
    assert (report.feedback_type, report.complainant_addresses) == ("abuse", ("user@example.com",))
    assert report.source_ip == "192.0.2.2"


def test_suppressing_feedback_types_exclude_authentication_failure_reports() -> None:
    # DMARC forensic reports are ARF too, but say nothing about the recipient's wishes.
    report = _complaint("mail-auth/004.eml")
    assert report.feedback_type == "auth-failure"
    assert report.feedback_type not in SUPPRESSING_FEEDBACK_TYPES
    assert _complaint("sisimai/bsd/arf-26.eml").feedback_type in SUPPRESSING_FEEDBACK_TYPES


# --- Amazon SES notifications (JSON bodies via SNS) --------------------------------------

_SES = CORPUS / "bounces/sisimai/bsd"


def test_classify_report_reads_ses_bounce_notifications() -> None:
    for name in ("lhost-amazonses-09.eml", "lhost-amazonses-10.eml"):  # bare and SNS-wrapped
        report = classify_report((_SES / name).read_bytes())
        assert isinstance(report, BounceReport), name
        assert [(r.email, r.action, r.status, r.reply_code, r.hard) for r in report.recipients] == [
            ("bounce@simulator.amazonses.com", "failed", "5.1.1", "550", True)
        ]


def test_classify_report_reads_ses_complaint_and_delivery_notifications() -> None:
    complaint = classify_report((_SES / "lhost-amazonses-11.eml").read_bytes())
    assert isinstance(complaint, ComplaintReport)
    assert (complaint.feedback_type, complaint.complainant_addresses) == (
        "abuse",
        ("complaint@simulator.amazonses.com",),
    )
    delivery = classify_report((_SES / "lhost-amazonses-12.eml").read_bytes())
    assert isinstance(delivery, BounceReport)
    assert [(r.action, r.status, r.reply_code, r.hard) for r in delivery.recipients] == [
        ("delivered", "2.6.0", "250", False)
    ]
