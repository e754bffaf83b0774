"""parse_message over the whole real-world corpus, plus the core behaviours of the result.

Every file under ../shared/corpus is parsed (test_corpus_file_parses_*); the invariants checked
there hold for any input. Upstream expectations are in test_parse_corpus.py, hostile inputs in
test_parse_robustness.py, text rendering in test_parse_text.py, names in test_parse_filenames.py.
"""

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailparse.parse import Address, ParsedMessage, parse_message

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
if not CORPUS.is_dir():  # fail the run loudly: an empty parametrisation would silently skip
    raise FileNotFoundError(f"mail corpus not found at {CORPUS}")
_NOT_MAIL = {"MANIFEST.md", ".gitattributes"}
CORPUS_FILES = sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".json" and p.name not in _NOT_MAIL
)
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")


def _ids(path: Path) -> str:
    return str(path.relative_to(CORPUS))


def _assert_clean(value: str) -> None:
    assert not _UNSAFE_TEXT.search(value), f"NUL or lone surrogate in {value[:80]!r}"


def test_corpus_is_complete_when_checked_out() -> None:
    # ~1,200 files per MANIFEST.md; a partial checkout would make the sweep below meaningless.
    assert len(CORPUS_FILES) > 1150


@pytest.mark.parametrize("path", CORPUS_FILES, ids=_ids)
def test_corpus_file_parses_quickly_with_invariants_when_any_input(path: Path) -> None:
    raw = path.read_bytes()
    started = time.process_time()  # CPU time: robust to other processes loading the machine
    parsed = parse_message(raw)

    # The slowest file (1.5 MB) takes ~0.1 s; the bound catches accidental quadratic behaviour.
    assert time.process_time() - started < 2
    assert isinstance(parsed, ParsedMessage)
    assert not any(d.startswith("parse_failed") for d in parsed.defects), parsed.defects
    assert parsed.content_type == parsed.content_type.lower() and "/" in parsed.content_type
    for value in [parsed.subject, *(v for pair in parsed.headers for v in pair)]:
        _assert_clean(value)
    for address in (*parsed.to, *parsed.cc, *parsed.reply_to, parsed.from_, parsed.sender):
        if address is not None:
            _assert_clean(address.name + address.email)
            assert address.email == "" or "@" in address.email
    for body in (parsed.text, parsed.html, parsed.stripped_text):
        if body is not None:
            _assert_clean(body)
    assert (parsed.text is None) == (parsed.stripped_text is None)
    assert parsed.date is None or parsed.date.tzinfo is not None
    for attachment in parsed.attachments:
        assert attachment.size == len(attachment.content)
        assert attachment.sha256 == hashlib.sha256(attachment.content).hexdigest()
        name = attachment.filename
        assert name and name not in (".", "..") and not name.startswith(".")
        assert not re.search(r"[/\\\x00-\x1f\x7f]", name)
        assert len(name.encode("utf-8")) <= 255
        assert attachment.content_id is None or "<" not in attachment.content_id


def _msg(*lines: str) -> bytes:
    return ("\r\n".join(lines)).encode("utf-8")


def test_headers_decoded_when_rfc2047_and_folded() -> None:
    raw = _msg(
        "From: =?utf-8?Q?Zo=C3=AB_Example?= <zoe@Example.COM>",
        "Subject: =?utf-8?B?44GT44KT44Gr?=",
        " =?utf-8?B?44Gh44Gv?=  world",
        "X-Note: plain",
        "",
        "hi",
    )
    parsed = parse_message(raw)

    assert parsed.from_ == Address(name="Zoë Example", email="zoe@example.com")
    assert parsed.subject == "こんにちは world"
    assert parsed.headers[1] == ("Subject", "こんにちは  world")
    assert parsed.headers[2] == ("X-Note", "plain")


def test_subject_decoded_when_charset_split_across_words() -> None:
    # Encoders split multi-byte characters across words; bytes must be joined before decoding.
    raw = _msg("Subject: =?utf-8?Q?caf=C3?= =?utf-8?Q?=A9?=", "", "x")
    assert parse_message(raw).subject == "café"


def test_subject_decoded_when_charset_unknown_or_8bit() -> None:
    raw = b"Subject: =?x-unknown?Q?caf=C3=A9?= and \xc3\xa9t\xc3\xa9\r\nX-Raw: \xe9t\xe9\r\n\r\nx"
    parsed = parse_message(raw)

    assert parsed.subject == "café and été"
    assert ("X-Raw", "été") in parsed.headers  # not UTF-8: latin-1 fallback


def test_addresses_parsed_when_groups_comments_and_quoted_commas() -> None:
    raw = _msg(
        'To: "Doe, Jane" <jane@EXAMPLE.org>, team: a@b.example, c@d.example;',
        "Cc: barry@python.org (Barry A. Warsaw), Undisclosed-Recipients:;",
        "Reply-To: <mailto:help@Example.net>",
        "",
        "x",
    )
    parsed = parse_message(raw)

    assert parsed.to == (
        Address("Doe, Jane", "jane@example.org"),
        Address("", "a@b.example"),
        Address("", "c@d.example"),
    )
    assert parsed.cc == (Address("Barry A. Warsaw", "barry@python.org"),)
    assert parsed.reply_to == (Address("", "help@example.net"),)


def test_address_email_empty_when_unparsable() -> None:
    parsed = parse_message(_msg("From: Just A Name", "To: <not an address>", "", "x"))

    assert parsed.from_ == Address("Just A Name", "")
    assert parsed.to == (Address("", ""),)


def test_message_ids_stripped_when_brackets_comments_and_folding() -> None:
    raw = _msg(
        "Message-ID:  <abc@host.example> ",
        "In-Reply-To: <first@x.example> (Ann's message of Monday) <second@x.example>",
        "References: <r1@x.example> <r2@x.",
        "  example>",
        "References: <r3@x.example> <r1@x.example>",
        "",
        "x",
    )
    parsed = parse_message(raw)

    assert parsed.message_id == "abc@host.example"
    assert parsed.in_reply_to == "first@x.example"
    assert parsed.references == ("r1@x.example", "r2@x.example", "r3@x.example")


def test_date_aware_when_zone_given_missing_or_invalid() -> None:
    def date_of(value: str) -> datetime | None:
        return parse_message(_msg(f"Date: {value}", "", "x")).date

    assert date_of("Tue, 13 Feb 2018 16:26:00 -0800") == datetime(
        2018, 2, 13, 16, 26, tzinfo=timezone(timedelta(hours=-8))
    )
    assert date_of("Tue, 13 Feb 2018 16:26:00 -0000") == datetime(2018, 2, 13, 16, 26, tzinfo=UTC)
    assert date_of("Tue, 13 Feb 2018 16:26:00") == datetime(2018, 2, 13, 16, 26, tzinfo=UTC)
    assert date_of("Wed, 14 Feb 2018 27:39:33 +0900") is None
    assert date_of("yesterday") is None
    assert parse_message(_msg("Subject: x", "", "x")).date is None


def test_text_and_html_chosen_when_alternative_inside_mixed() -> None:
    raw = _msg(
        'Content-Type: multipart/mixed; boundary="m"',
        "",
        "--m",
        'Content-Type: multipart/alternative; boundary="a"',
        "",
        "--a",
        "Content-Type: text/plain; charset=iso-8859-1",
        "",
        "Gr\xfc\xdfe",
        "--a",
        "Content-Type: text/html",
        "",
        "<p>Hello</p>",
        "--a--",
        "--m",
        "Content-Type: text/calendar; method=REQUEST",
        "",
        "BEGIN:VCALENDAR",
        "--m--",
    ).replace("Gr\xfc\xdfe".encode(), "Gr\xfc\xdfe".encode("latin-1"))
    parsed = parse_message(raw)

    assert parsed.text == "Grüße"
    assert parsed.html == "<p>Hello</p>"
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("attachment-1.ics", "text/calendar")
    ]


def test_text_concatenated_when_mixed_has_several_inline_text_parts() -> None:
    raw = _msg(
        'Content-Type: multipart/mixed; boundary="m"',
        "",
        "--m",
        "",
        "before",
        "--m",
        "Content-Type: image/png",
        "Content-Transfer-Encoding: base64",
        "",
        "iVBORw0=",
        "--m",
        "",
        "after",
        "--m--",
    )
    parsed = parse_message(raw)

    assert parsed.text == "before\n\nafter"
    assert [a.content_type for a in parsed.attachments] == ["image/png"]


def test_text_derived_from_html_when_only_html() -> None:
    raw = _msg("Content-Type: text/html", "", "<p>Code: <b>123456</b></p><p>Thanks</p>")
    parsed = parse_message(raw)

    assert parsed.text == "Code: 123456\n\nThanks"
    assert parsed.html == "<p>Code: <b>123456</b></p><p>Thanks</p>"


def test_text_unflowed_when_format_flowed() -> None:
    raw = _msg(
        "Content-Type: text/plain; format=flowed",
        "",
        "a soft ",
        "break",
        ">quoted ",
        ">line",
        "hard",
    )
    assert parse_message(raw).text == "a soft break\n> quoted line\nhard"


def test_inline_true_when_cid_referenced_from_html() -> None:
    raw = _msg(
        'Content-Type: multipart/related; boundary="r"',
        "",
        "--r",
        "Content-Type: text/html",
        "",
        '<img src="cid:logo@x">',
        "--r",
        "Content-Type: image/gif",
        "Content-ID: <logo@x>",
        "",
        "GIF89a",
        "--r",
        "Content-Type: image/gif",
        "Content-ID: <unused@x>",
        "",
        "GIF89a",
        "--r--",
    )
    attachments = parse_message(raw).attachments

    assert [(a.content_id, a.inline) for a in attachments] == [
        ("logo@x", True),
        ("unused@x", False),
    ]


def test_attachment_named_from_subject_when_message_rfc822() -> None:
    raw = _msg(
        'Content-Type: multipart/mixed; boundary="m"',
        "",
        "--m",
        "",
        "see attached",
        "--m",
        "Content-Type: message/rfc822",
        "",
        "Subject: Q3 report / final",
        "",
        "inner",
        "--m--",
    )
    attachment = parse_message(raw).attachments[0]

    assert (attachment.filename, attachment.content_type) == (
        "Q3 report _ final.eml",
        "message/rfc822",
    )
    assert parse_message(attachment.content).text == "inner"


def test_attachment_yielded_when_uuencoded_inside_text() -> None:
    raw = _msg("Subject: uu", "", "See file.", "begin 644 hi.txt", "#:&D*", "`", "end", "Bye.")
    parsed = parse_message(raw)

    assert parsed.text == "See file.\nBye."
    assert [(a.filename, a.content) for a in parsed.attachments] == [("hi.txt", b"hi\n")]


def test_body_recovered_when_boundary_missing_from_content_type() -> None:
    raw = _msg(
        "Content-Type: multipart/alternative",
        "",
        "preamble",
        "--lost",
        "Content-Type: text/html",
        "",
        "<b>found</b>",
        "--lost--",
    )
    parsed = parse_message(raw)

    assert parsed.html == "<b>found</b>"
    assert "NoBoundaryInMultipartDefect" in parsed.defects


def test_hidden_parts_surfaced_when_after_close_boundary() -> None:
    raw = _msg(
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "",
        "visible",
        "--b--",
        "--b",
        'Content-Type: application/zip; name="payload.zip"',
        "",
        "PK",
        "--b--",
    )
    parsed = parse_message(raw)

    assert parsed.text == "visible"
    assert [a.filename for a in parsed.attachments] == ["payload.zip"]
    assert "parts_after_close_boundary" in parsed.defects
