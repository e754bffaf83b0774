"""Attachment filenames: sanitising hostile names and decoding RFC 2231 / RFC 2047 parameters."""

from pathlib import Path

from mailparse.filenames import MAX_FILENAME_BYTES, safe_filename
from mailparse.parse import parse_message

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
if not CORPUS.is_dir():
    raise FileNotFoundError(f"mail corpus not found at {CORPUS}")


def _name_in_message(disposition_params: str, content_type: str = "application/pdf") -> str:
    raw = (
        f"Content-Type: {content_type}\nContent-Disposition: attachment; {disposition_params}\n"
        "Content-Transfer-Encoding: base64\n\nJVBERg==\n"
    )
    return parse_message(raw.encode("utf-8")).attachments[0].filename


def test_path_parts_dropped_when_traversal_or_windows_path() -> None:
    assert safe_filename("../../etc/passwd", 1, "text/plain") == "passwd"
    assert safe_filename("C:\\x\\y.exe", 1, "application/octet-stream") == "y.exe"
    assert safe_filename("..\\..\\boot.ini", 1, "text/plain") == "boot.ini"
    assert _name_in_message('filename="../../etc/passwd"') == "passwd"


def test_fallback_used_when_name_is_dots_or_empty() -> None:
    for hostile in ("..", ".", "../..", "/", "   ", "", None, "\x00\x01"):
        assert safe_filename(hostile, 3, "application/pdf") == "attachment-3.pdf", hostile
    assert safe_filename(None, 2, "application/x-unknown") == "attachment-2"


def test_leading_dots_and_trailing_dots_removed_when_hidden_or_windows_tricks() -> None:
    assert safe_filename(".bashrc", 1, "text/plain") == "bashrc"
    assert safe_filename("...evil.exe. . ", 1, "text/plain") == "evil.exe"


def test_control_and_bidi_characters_removed_when_in_name() -> None:
    assert safe_filename("re\x00port\r\n.pdf", 1, "application/pdf") == "report.pdf"
    # U+202E would display "invoice\u202efdp.exe" as "invoiceexe.pdf".
    assert safe_filename("invoice\u202efdp.exe", 1, "application/pdf") == "invoicefdp.exe"
    assert safe_filename('a<b>:c"d|e?f*.txt', 1, "text/plain") == "a_b__c_d_e_f_.txt"


def test_name_truncated_to_255_bytes_when_too_long() -> None:
    name = "é" * 300 + ".pdf"
    safe = safe_filename(name, 1, "application/pdf")

    assert len(safe.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert safe.endswith(".pdf") and safe.startswith("éé")
    assert len(safe_filename("x" * 1000, 1, "text/plain").encode()) == MAX_FILENAME_BYTES


def test_name_decoded_when_rfc2231_encoded_and_continued() -> None:
    # Decoding happens before sanitising, so an encoded "../" cannot smuggle a path through.
    assert _name_in_message("filename*=UTF-8''%C3%BCber%2F%2E%2E%2Fplan.pdf") == "plan.pdf"
    assert _name_in_message("filename*=UTF-8''%C3%BCber%20plan.pdf") == "über plan.pdf"
    continued = "filename*0*=UTF-8''Gr%C3%BC%C3%9Fe; filename*1*=%20aus%20; filename*2=Berlin.pdf"
    assert _name_in_message(continued) == "Grüße aus Berlin.pdf"


def test_name_decoded_when_rfc2047_encoded_word() -> None:
    assert _name_in_message('filename="=?utf-8?B?0L7RgtGH0ZHRgi5wZGY=?="') == "отчёт.pdf"
    assert _name_in_message("filename==?iso-8859-1?Q?r=E9sum=E9.pdf?=") == "résumé.pdf"


def test_name_from_content_type_when_no_disposition_filename() -> None:
    raw = b'Content-Type: image/png; name="chart.png"\nContent-Disposition: inline\n\nx'
    attachment = parse_message(raw).attachments[0]

    assert (attachment.filename, attachment.inline) == ("chart.png", True)


def test_corpus_names_decoded_when_rfc2231_and_rfc2047_in_the_wild() -> None:
    folder = CORPUS / "mikel-mail" / "attachment_emails"
    expected = {
        "attachment_with_quoted_filename.eml": "Eelanalüüsi päring.jpg",  # RFC 2231 ISO-8859-1
        "attachment_with_base64_encoded_name.eml": "This is a test.pdf",  # RFC 2047 B in name=
        "attachment_nonascii_filename.eml": "ciële.txt",  # raw 8-bit parameter
        "attachment_with_unquoted_name.eml": "This is a test.txt",
    }
    for file, name in expected.items():
        names = [a.filename for a in parse_message((folder / file).read_bytes()).attachments]
        assert names == [name], file
    japanese = CORPUS / "mikel-mail" / "multi_charset" / "japanese_attachment.eml"
    assert [a.filename for a in parse_message(japanese.read_bytes()).attachments] == ["てすと.txt"]
