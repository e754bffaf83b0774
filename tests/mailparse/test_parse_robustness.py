"""parse_message on hostile and broken input: bombs, limits, NULs, line endings, bad encodings."""

import random
import time
from pathlib import Path

from mailparse.parse import ParsedMessage, ParseLimits, parse_message

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
if not CORPUS.is_dir():
    raise FileNotFoundError(f"mail corpus not found at {CORPUS}")


def _timed(raw: bytes, limits: ParseLimits | None = None) -> tuple[ParsedMessage, float]:
    started = time.process_time()  # CPU time: robust to other processes loading the machine
    parsed = parse_message(raw, limits or ParseLimits())
    return parsed, time.process_time() - started


def _rfc822_bomb(levels: int) -> bytes:
    raw = b"Subject: core\n\nbottom\n"
    for level in range(levels):
        raw = b"Subject: level %d\nContent-Type: message/rfc822\n\n" % level + raw
    return raw


def _multipart_bomb(levels: int) -> bytes:
    raw = b"Content-Type: text/plain\n\ndeep\n"
    for level in range(levels):
        b = b"b%d" % level
        raw = b'Content-Type: multipart/mixed; boundary="%s"\n\n--%s\n%s\n--%s--\n' % (b, b, raw, b)
    return b"Subject: bomb\n" + raw


def _defect_free_parse(raw: bytes) -> ParsedMessage:
    parsed = parse_message(raw)
    assert not any(d.startswith("parse_failed") for d in parsed.defects), parsed.defects
    return parsed


def test_depth_defect_recorded_when_50_levels_of_message_rfc822() -> None:
    parsed, seconds = _timed(_rfc822_bomb(50))

    assert "max_depth_exceeded" in parsed.defects
    assert parsed.subject == "level 49"
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]
    assert seconds < 1


def test_depth_defect_recorded_when_parser_stack_exhausted_by_3000_levels() -> None:
    parsed, seconds = _timed(_rfc822_bomb(3000))

    assert "max_depth_exceeded" in parsed.defects
    assert parsed.subject == "level 2999"  # headers survive even when the body cannot be read
    assert seconds < 2


def test_input_cut_when_1000_nested_multiparts() -> None:
    # Without the pre-parse cut the feed parser needs ~2.5 s here (every line is tested against
    # every open boundary); with it, parsing stays linear.
    parsed, seconds = _timed(_multipart_bomb(1000))

    assert "max_depth_exceeded" in parsed.defects
    assert seconds < 0.5


def test_depth_defect_recorded_when_nesting_just_past_limit() -> None:
    parsed = parse_message(_multipart_bomb(3), ParseLimits(max_depth=2))
    assert "max_depth_exceeded" in parsed.defects
    assert parsed.text is None  # the text/plain leaf sits at depth 4

    within = parse_message(_multipart_bomb(3), ParseLimits(max_depth=4))
    assert "max_depth_exceeded" not in within.defects
    assert within.text == "deep\n"


def test_parts_defect_recorded_when_5000_parts() -> None:
    parts = b"".join(b"--b\nContent-Type: text/plain\n\np%d\n" % i for i in range(5000))
    raw = b'Content-Type: multipart/mixed; boundary="b"\n\n' + parts + b"--b--\n"
    parsed, seconds = _timed(raw)

    assert "max_parts_exceeded" in parsed.defects
    assert parsed.text is not None
    assert parsed.text.startswith("p0\n\np1") and "p998" in parsed.text  # root + 999 parts
    assert "p999" not in parsed.text
    assert seconds < 5


def test_headers_cut_when_header_block_exceeds_limit() -> None:
    filler = b"".join(b"X-Filler-%d: %s\n" % (i, b"v" * 90) for i in range(2000))
    raw = b"From: a@b.example\n" + filler + b"Subject: after the limit\n\nthe body\n"
    parsed = parse_message(raw, ParseLimits(max_header_bytes=50_000))

    assert "max_header_bytes_exceeded" in parsed.defects
    assert parsed.from_ is not None and parsed.from_.email == "a@b.example"
    assert parsed.subject == ""
    assert 400 < len(parsed.headers) < 600
    assert parsed.text == "the body\n"


def test_single_huge_header_dropped_when_over_limit() -> None:
    parsed = parse_message(b"Subject: " + b"a" * 2_000_000 + b"\n\nbody")
    assert "max_header_bytes_exceeded" in parsed.defects
    assert parsed.subject == ""


def test_nul_bytes_replaced_when_in_headers_and_body() -> None:
    parsed = parse_message(b"Subject: a\x00b\r\nFrom: x@y.example\r\n\r\nnul\x00here")

    assert parsed.subject == "a\ufffdb"
    assert parsed.text == "nul\ufffdhere"
    assert parsed.from_ is not None and parsed.from_.email == "x@y.example"


def test_same_result_when_crlf_bare_lf_or_cr_only() -> None:
    lines = [
        b'Content-Type: multipart/mixed; boundary="b"',
        b"Subject: endings",
        b"",
        b"--b",
        b"",
        b"line one",
        b"line two",
        b"--b",
        b'Content-Type: text/csv; name="a.csv"',
        b"",
        b"1,2",
        b"--b--",
        b"",
    ]
    results = [parse_message(sep.join(lines)) for sep in (b"\r\n", b"\n", b"\r")]

    for parsed in results:
        assert parsed.subject == "endings"
        assert parsed.text == "line one\nline two"
        assert [a.filename for a in parsed.attachments] == ["a.csv"]
        assert parsed.defects == ()


def test_long_line_kept_when_20000_chars() -> None:
    line = "x" * 20_000
    parsed, seconds = _timed(f"Subject: long\n\n{line}\nend\n".encode())

    assert parsed.text == f"{line}\nend\n"
    assert parsed.stripped_text == f"{line}\nend"
    assert seconds < 1


def test_content_decoded_best_effort_when_base64_broken() -> None:
    raw = (
        b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n"
        b"JVBERi0x!!!LjQK\n=\n"
    )
    parsed = parse_message(raw)

    assert parsed.attachments[0].content.startswith(b"%PDF-1.4")
    assert "InvalidBase64CharactersDefect" in parsed.defects


def test_text_decoded_when_base64_padding_missing() -> None:
    raw = b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ"
    parsed = parse_message(raw)

    assert parsed.text == "hello world"
    assert "InvalidBase64PaddingDefect" in parsed.defects


def test_not_rfc5322_when_outlook_msg_binary() -> None:
    parsed = parse_message((CORPUS / "mail-parser" / "mail_outlook_1").read_bytes())

    assert "not_rfc5322" in parsed.defects
    assert parsed.headers == () and parsed.text is None and parsed.attachments == ()


def test_not_rfc5322_when_input_has_no_header_block() -> None:
    for raw in (b"", b"\r\n\r\n", b"<?xml version='1.0'?><feedback/>", b"\x1f\x8b\x08\x00junk"):
        assert "not_rfc5322" in parse_message(raw).defects, raw


def test_headers_read_when_bom_or_leading_blank_lines() -> None:
    for prefix in (b"\xef\xbb\xbf", b"\r\n\r\n"):
        assert parse_message(prefix + b"Subject: hi\n\nbody").subject == "hi"


def test_charset_fallbacks_when_declared_charset_wrong_or_unknown() -> None:
    def text_of(charset: str, body: bytes) -> str | None:
        head = b"Content-Type: text/plain; charset=" + charset.encode() + b"\n\n"
        return parse_message(head + body).text

    assert text_of("us-ascii", "Grüße".encode()) == "Grüße"  # really UTF-8
    assert text_of("x-unknown", "Grüße".encode()) == "Grüße"
    assert text_of("zlib", "Grüße".encode()) == "Grüße"  # a bytes codec is not a charset
    assert text_of("utf-8", "Grüße".encode("latin-1")) == "Grüße"  # really latin-1
    assert text_of("iso-8859-1", b"\x93quoted\x94") == "\u201cquoted\u201d"  # read as windows-1252
    # A known multi-byte charset with one bad byte keeps the rest instead of turning to mojibake.
    assert text_of("shift_jis", "日本語".encode("shift_jis") + b"\x81") == "日本語\ufffd"


def test_never_raises_when_random_or_mutated_bytes() -> None:
    rng = random.Random(20240607)
    seed = (CORPUS / "mimekit" / "messages" / "body.7.txt").read_bytes()
    inputs = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 2000))) for _ in range(100)]
    for _ in range(200):
        mutated = bytearray(seed[: rng.randint(0, len(seed))])  # truncated somewhere
        for _ in range(rng.randint(0, 20)):
            if mutated:
                mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        inputs.append(bytes(mutated))
    for raw in inputs:
        _defect_free_parse(raw)
