"""Readable text from mail bodies: html_to_text, stripped_text (quotes, signatures), flowed text."""

from mailparse.parse import html_to_text, parse_message
from mailparse.quotes import strip_quotes, unflow


def _stripped(body: str) -> str | None:
    return parse_message(b"Subject: Re: x\n\n" + body.encode()).stripped_text


def test_blocks_become_line_breaks_when_paragraphs_divs_and_br() -> None:
    html = "<p>Hello <b>world</b>,</p><div>line</div>one<br>two<br><br>four<h1>Title</h1>tail"
    assert html_to_text(html) == "Hello world,\n\nline\none\ntwo\n\nfour\n\nTitle\n\ntail"


def test_links_kept_as_text_and_url_when_text_differs() -> None:
    html = (
        '<a href="https://x.example/verify?t=1">Verify email</a> '
        '<a href="https://x.example">https://x.example/</a> '
        '<a href="mailto:help@x.example">help@x.example</a> '
        '<a href="https://x.example/img"><img src="logo.png" alt="Logo"></a> '
        '<a href="https://x.example/bare"></a> <a href="#top">top</a>'
    )
    assert html_to_text(html) == (
        "Verify email (https://x.example/verify?t=1) https://x.example/ help@x.example "
        "Logo (https://x.example/img) https://x.example/bare top"
    )


def test_hidden_content_dropped_when_script_style_head_or_hidden() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        '<div style="display:none;max-height:0">preheader&zwnj;&nbsp;&zwnj;</div>'
        "<script>var x = 1;</script><span hidden>secret</span>"
        "<p style='DISPLAY: none'>gone<p>Visible &amp; kept</body></html>"
    )
    assert html_to_text(html) == "Visible & kept"


def test_lists_tables_and_quotes_rendered_when_structured_html() -> None:
    html = (
        "<ul><li>one<li>two</ul><table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr>"
        "</table><blockquote>quoted</blockquote><pre>  keep\n    spacing</pre>"
    )
    assert html_to_text(html) == "- one\n- two\n\na b\nc\n\n> quoted\n\n  keep\n    spacing"


def test_text_returned_when_html_malformed() -> None:
    assert html_to_text("<p>unclosed <b>bold <a href='x'>link") == "unclosed bold link (x)"
    assert html_to_text("1 < 2 > 0 &bogus; &#xD800;") == "1 < 2 > 0 &bogus; \ufffd"
    assert html_to_text("") == ""


def test_gmail_quote_removed_when_attribution_wraps() -> None:
    body = (
        "Sounds good, see you then.\n\n"
        "On Mon, Jan 8, 2024 at 10:02 AM Ann Example <ann@example.com>\nwrote:\n\n"
        "> Can we meet at 3?\n>\n> Ann\n"
    )
    assert _stripped(body) == "Sounds good, see you then."


def test_outlook_quote_removed_when_from_sent_block() -> None:
    body = (
        "Approved.\n\nThanks,\nBob\n\n________________________________\n"
        "From: Ann Example <ann@example.com>\nSent: Monday, January 8, 2024 10:02 AM\n"
        "To: Bob <bob@example.com>\nSubject: Budget\n\nPlease approve the budget.\n"
    )
    assert _stripped(body) == "Approved.\n\nThanks,\nBob"


def test_outlook_quote_removed_when_original_message_marker() -> None:
    body = "Done.\n\n-----Original Message-----\nFrom: Ann\nSent: Monday\n\nPlease do it.\n"
    assert _stripped(body) == "Done."


def test_apple_quote_and_signature_removed_when_sent_from_iphone() -> None:
    body = (
        "Yes!\n\nSent from my iPhone\n\n"
        "> On Jan 8, 2024, at 10:02, Ann Example <ann@example.com> wrote:\n>\n> Lunch?\n"
    )
    assert _stripped(body) == "Yes!"


def test_quote_removed_when_attribution_in_other_languages() -> None:
    attributions = [
        "Le lun. 8 janv. 2024 à 10:02, Ann Example <ann@example.com> a écrit :",
        "Am Mo., 8. Jan. 2024 um 10:02 Uhr schrieb Ann Example <ann@example.com>:",
        "El lun, 8 ene 2024 a las 10:02, Ann Example (<ann@example.com>) escribió:",
        "Op ma 8 jan. 2024 om 10:02 schreef Ann Example <ann@example.com>:",
        "在 2024年1月8日 10:02，Ann <ann@example.com> 写道：",
        "2024年1月8日(月) 10:02 Ann Example <ann@example.com>:",
    ]
    for attribution in attributions:
        assert _stripped(f"Merci.\n\n{attribution}\n> Bonjour\n") == "Merci.", attribution


def test_outlook_quote_removed_when_german_headers() -> None:
    body = "Erledigt.\n\nVon: Ann <ann@example.com>\nGesendet: Montag, 8. Januar 2024\nAn: Bob\n\nX"
    assert _stripped(body) == "Erledigt."


def test_signature_removed_when_dash_dash_space_delimiter() -> None:
    assert _stripped("Here is the report.\n\n-- \nBob Example | CFO\n+1 555 0100\n") == (
        "Here is the report."
    )


def test_new_text_kept_when_inline_reply_between_quotes() -> None:
    assert _stripped("> Can you do Monday?\nYes.\n> And Tuesday?\nNo.\n") == "Yes.\nNo."


def test_forward_kept_when_forwarded_message_block() -> None:
    body = (
        "FYI\n\n---------- Forwarded message ---------\nFrom: Ann <ann@example.com>\n"
        "Date: Mon, Jan 8, 2024 at 10:02 AM\nSubject: Invoice\n\nInvoice attached.\n"
    )
    assert _stripped(body) == body.strip()


def test_text_kept_when_wrote_colon_without_a_date() -> None:
    body = "On the topic you raised, here is what I wrote:\nthe plan is fine.\n"
    assert strip_quotes(body) == body.strip()


def test_stripped_text_from_html_when_gmail_blockquote() -> None:
    html = (
        "<div>Works for me.</div><div class='gmail_quote'><div>On Mon, Jan 8, 2024 at 10:02 AM "
        "Ann &lt;ann@example.com&gt; wrote:</div><blockquote>Meet at 3?</blockquote></div>"
    )
    parsed = parse_message(b"Content-Type: text/html\n\n" + html.encode())

    assert parsed.stripped_text == "Works for me."


def test_lines_joined_when_flowed_with_delsp() -> None:
    assert unflow("one \ntwo\n>> deep \n>> quote\n-- \nsig", delsp=False) == (
        "one two\n>> deep quote\n-- \nsig"
    )
    assert unflow("http://example.com/very/lo \nng", delsp=True) == "http://example.com/very/long"
    assert unflow(" space-stuffed", delsp=False) == "space-stuffed"
