"""Prompt-injection screening: deterministic detectors, optionally combined with the LLM.

Detectors look for what attackers hide in mail for agents: text a human cannot see in the
HTML (display:none, zero font size, white-on-white, off-screen), instructions aimed at an
assistant ("ignore previous instructions"), invisible characters (zero-width, Unicode tag
characters), and words mixing scripts (Cyrillic/Greek look-alikes in Latin words).
Pure and fast: runs on every inbound message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

FLAG_AT = 0.5

_INSTRUCTIONS = [
    (r"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|any|your)\b[^.\n]{0,30}\b(instructions?|prompts?|rules|directions|guidelines|context)\b", "ignore previous instructions"),
    (r"\byou are now\b|\bfrom now on,? you (are|will|must)\b|\bnew (system )?instructions?\s*:", "role reassignment"),
    (r"\b(system|developer) (prompt|message|instructions?)\b", "mentions the system prompt"),
    (r"\b(reveal|print|show|repeat|output)\b[^.\n]{0,30}\b(system prompt|instructions|api key|password|secrets?|credentials)\b", "asks to reveal secrets"),
    (r"\b(forward|send|email|exfiltrate)\b[^.\n]{0,40}\b(all|every|the last \d+)\b[^.\n]{0,30}\b(emails?|messages?|mail|contacts|files)\b", "asks to forward mail"),
    (r"\b(do not|don't|never)\b[^.\n]{0,20}\b(tell|inform|notify|mention)\b[^.\n]{0,20}\b(the )?(user|owner|human)\b", "asks to keep the user uninformed"),
    (r"<\|im_start\|>|<\|system\|>|\[INST\]|###\s*(system|instruction)|^\s*(system|assistant)\s*:", "chat-template markers"),
    (r"\b(as an ai|attention (ai|assistant|agent)|dear (ai|assistant|agent)|(ai|llm) agents? reading this)\b", "addresses an AI reader"),
]  # fmt: skip
_PATTERNS = [(re.compile(p, re.IGNORECASE | re.MULTILINE), why) for p, why in _INSTRUCTIONS]
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_TAG_CHARS = re.compile("[\U000e0000-\U000e007f]")
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*(0|0?\.\d+|1)(px|pt|em|rem|%)?\s*(;|$)"
    r"|opacity\s*:\s*0(\.0+)?\s*(;|$)|(max-)?height\s*:\s*0(px)?\s*(;|$)|left\s*:\s*-\d{3,}px"
    r"|text-indent\s*:\s*-\d{3,}px|mso-hide\s*:\s*all",
    re.IGNORECASE,
)
_WHITE = r"(#fff(fff)?|white|rgba?\(\s*255\s*,\s*255\s*,\s*255[^)]*\))"
_WHITE_TEXT = re.compile(rf"(^|;|\s)color\s*:\s*{_WHITE}", re.IGNORECASE)
_DARK_BG = re.compile(r"background(-color)?\s*:\s*(#0|#1|#2|#3|black|rgb\(\s*\d{1,2}\s*,)", re.IGNORECASE)
_VOID = frozenset("area base br col embed hr img input link meta source wbr".split())


@dataclass
class Assessment:
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    llm_checked: bool = False

    @property
    def flagged(self) -> bool:
        return self.score >= FLAG_AT

    def as_dict(self) -> dict[str, object]:
        return {"score": round(self.score, 3), "flagged": self.flagged, "reasons": self.reasons,
                "llm_checked": self.llm_checked}  # fmt: skip


class _HiddenText(HTMLParser):
    """Collects text inside elements styled to be invisible to a human reader."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []
        self.hidden: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        a = dict(attrs)
        style = a.get("style") or ""
        color = (a.get("color") or "").lower()
        hidden = (
            "hidden" in a or bool(_HIDDEN_STYLE.search(style))
            or (bool(_WHITE_TEXT.search(style)) and not _DARK_BG.search(style))
            or color in ("#fff", "#ffffff", "white")
        )  # fmt: skip
        self.stack.append(hidden or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] and data.strip():
            self.hidden.append(data.strip())


def hidden_html_text(html: str) -> str:
    parser = _HiddenText()
    try:
        parser.feed(html[:2_000_000])
        parser.close()
    except Exception:  # noqa: BLE001  (broken HTML: judge what was parsed)
        pass
    return " ".join(parser.hidden)


def _script(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"):
        if name.startswith(script):
            return script
    return None


def mixed_script_words(text: str) -> list[str]:
    found = []
    for word in _WORD.findall(text[:200_000]):
        scripts = {s for s in map(_script, word) if s}
        if len(scripts) > 1 and "LATIN" in scripts:
            found.append(word)
            if len(found) >= 5:
                break
    return found


def _instructions(text: str) -> list[str]:
    return [why for pattern, why in _PATTERNS if pattern.search(text)]


def screen(subject: str, text: str, html: str | None) -> Assessment:
    """The deterministic assessment of one message."""
    visible = f"{subject}\n{text}"
    weights: list[float] = []
    reasons: list[str] = []
    found = _instructions(visible)
    if found:
        weights.append(0.55 if len(found) == 1 else 0.8)
        reasons += [f"instruction pattern: {why}" for why in found]
    hidden = hidden_html_text(html) if html else ""
    if len(hidden) >= 20:
        hidden_found = _instructions(hidden)
        weights.append(0.85 if hidden_found else 0.25)
        reasons.append(f"hidden HTML text ({len(hidden)} chars)")
        reasons += [f"instruction pattern in hidden text: {why}" for why in hidden_found if why not in found]
    raw = f"{subject}\n{text}\n{html or ''}"
    tags = _TAG_CHARS.findall(raw)
    if tags:
        weights.append(0.7)
        reasons.append(f"{len(tags)} invisible Unicode tag characters")
    zero_width = _ZERO_WIDTH.findall(visible)
    if len(zero_width) >= 3:
        weights.append(0.3)
        reasons.append(f"{len(zero_width)} zero-width or bidi control characters")
    mixed = mixed_script_words(visible)
    if mixed:
        weights.append(0.3)
        reasons.append(f"mixed-script look-alike words: {', '.join(mixed[:3])}")
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w
    return Assessment(score=round(1.0 - remaining, 3), reasons=reasons)


def combine(deterministic: Assessment, llm_score: float, llm_reasons: list[str]) -> Assessment:
    """The LLM can raise the score, and lower it only for mail no detector fired on."""
    score = max(deterministic.score, llm_score) if deterministic.reasons else llm_score
    reasons = deterministic.reasons + [f"llm: {r}" for r in llm_reasons]
    return Assessment(score=round(max(0.0, min(1.0, score)), 3), reasons=reasons, llm_checked=True)
