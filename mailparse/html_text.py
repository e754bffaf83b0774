"""Converts an HTML mail body to readable plain text for agents (html_to_text).

Owns the rendering rules only: block elements become line breaks, links become "text (url)",
blockquotes become "> " lines, and script/style/head/hidden content is dropped. Pure: no I/O,
never raises.
"""

import re
from html.parser import HTMLParser

_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "object"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# Elements whose end tag is optional: a hidden <p> is closed by the next <p>, not by </p>.
_IMPLICIT_END = frozenset({"p", "li", "td", "th", "tr", "option", "dt", "dd"})
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "pre", "hr"}
)
_LINES = frozenset(
    "div tr li dt dd section article header footer nav aside main address center form fieldset"
    " figure figcaption caption tbody thead tfoot body html".split()
)
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all", re.IGNORECASE
)
# Zero-width and padding characters that marketing mail uses to pad preview text.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad"), None)
_WHITESPACE = re.compile(r"[ \t\n\r\f\v\u00a0]+")


def _is_hidden(attrs: dict[str, str | None]) -> bool:
    return "hidden" in attrs or bool(_HIDDEN_STYLE.search(attrs.get("style") or ""))


def _same_target(text: str, url: str) -> bool:
    def norm(value: str) -> str:
        value = value.strip().lower()
        for prefix in ("mailto:", "tel:"):
            value = value.removeprefix(prefix)
        return value.rstrip("/")

    return norm(text) == norm(url)


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._trailing_newlines = 0
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._pre = 0
        self._quote = 0
        self._links: list[tuple[str, int]] = []  # (href, index into out where the text starts)
        self._space_pending = False

    # -- output -------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        if not text:
            return
        if not self.out or self._trailing_newlines:
            if self._quote:
                self.out.append("> " * self._quote)
        elif self._space_pending and not self.out[-1].endswith((" ", "\n")):
            self.out.append(" ")
        self._space_pending = False
        self.out.append(text)
        self._trailing_newlines = len(text) - len(text.rstrip("\n")) if self._pre else 0

    def _newlines(self, count: int) -> None:
        self._space_pending = False
        if not self.out or self._trailing_newlines >= count:
            return
        self.out.append("\n" * (count - self._trailing_newlines))
        self._trailing_newlines = count

    # -- parser callbacks ---------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                if tag in _IMPLICIT_END and self._skip_depth == 1:
                    self._skip_tag, self._skip_depth = None, 0  # implicitly closed: fall through
                else:
                    self._skip_depth += 1
                    return
            else:
                return
        attr_map = dict(attrs)
        if tag not in _VOID and (tag in _SKIPPED or _is_hidden(attr_map)):
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "br":
            self.out.append("\n")
            self._trailing_newlines += 1
            self._space_pending = False
        elif tag in _PARAGRAPHS or tag == "blockquote":
            self._newlines(2)
        elif tag in _LINES:
            self._newlines(1)
        elif tag in ("td", "th"):
            self._space_pending = True
        if tag == "pre":
            self._pre += 1
        elif tag == "blockquote":
            self._quote += 1
        elif tag == "li":
            self._write("- ")
        elif tag == "a":
            self._links.append((attr_map.get("href") or "", len(self.out)))
        elif tag == "img" and self._links:
            self._write((attr_map.get("alt") or "").strip())

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag == "a" and self._links:
            self._close_link()
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        elif tag == "blockquote":
            self._newlines(2)
            self._quote = max(0, self._quote - 1)
        if tag in _PARAGRAPHS:
            self._newlines(2)
        elif tag in _LINES:
            self._newlines(1)
        elif tag in ("td", "th"):
            self._space_pending = True

    def finish(self) -> str:
        while self._links:  # unclosed <a> elements still owe their URL
            self._close_link()
        return "".join(self.out)

    def _close_link(self) -> None:
        href, start = self._links.pop()
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "cid:")):
            return
        text = "".join(self.out[start:]).strip()
        if not text:
            self._write(href)
        elif not _same_target(text, href):
            self._space_pending = True
            self._write(f"({href})")

    def handle_data(self, data: str) -> None:
        if self._skip_tag is not None:
            return
        data = data.translate(_INVISIBLE)
        if self._pre:
            self._write(data)
            return
        if data[:1].isspace() and self.out and not self._trailing_newlines:
            self._space_pending = True
        words = _WHITESPACE.sub(" ", data).strip()
        self._write(words)
        if words and data[-1:].isspace():
            self._space_pending = True


def html_to_text(html: str) -> str:
    """Render HTML as readable plain text (see module docstring for the rules)."""
    builder = _TextBuilder()
    try:
        builder.feed(html)
        builder.close()
    except Exception:  # noqa: BLE001, S110 - html.parser asserts on some malformed markup
        pass  # keep what was rendered before the failure
    text = builder.finish()
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
