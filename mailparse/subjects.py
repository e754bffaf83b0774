"""Subject lines for threading: strip the reply/forward prefixes that mail clients add in
many languages, drop "[list]" tags, and tell whether a subject is too generic to join on.

Pure string functions: no I/O, no locale lookups.
"""

from __future__ import annotations

import re

# Localised prefixes mail clients write in front of a subject. "VS" is Finnish "reply" but
# Norwegian/Danish "forward"; it is counted as a reply here.
_REPLY_WORDS = (
    "re|aw|sv|antw|antwort|vs|ref|réf|rif|r|odp|ynt|atb|res|vá|απ|σχετ|отв|回复|答复|回覆|返信"
)
_FORWARD_WORDS = "fwd|fw|wg|tr|rv|doorst|enc|i|vl|vb|pd|ilt|İlt|πρθ|пересл|转发|轉寄|転送"
# An optional counter follows the word: "Re[2]:", "RE(3):", "Re^2:". French typography puts a
# space before the colon, and CJK clients use a full-width colon.
_COUNTER = r"(?:\[\d+\]|\(\d+\)|\^\d+)?"
_REPLY_RE = re.compile(rf"(?:{_REPLY_WORDS}){_COUNTER}\s*[:：]", re.IGNORECASE)
_FORWARD_RE = re.compile(rf"(?:{_FORWARD_WORDS}){_COUNTER}\s*[:：]", re.IGNORECASE)
_TAG_RE = re.compile(r"\[[^\[\]]{1,60}\]")
_LEADING_RE = re.compile(
    rf"\s*(?:{_TAG_RE.pattern}|{_REPLY_RE.pattern}|{_FORWARD_RE.pattern})\s*", re.IGNORECASE
)

# Words that alone (or two of them together) say nothing about a conversation's topic.
_GENERIC_WORDS = frozenset(
    {"question", "questions", "quick", "hello", "hi", "hey", "hallo", "hola", "bonjour", "ciao",
     "help", "hilfe", "ayuda", "test", "testing", "urgent", "dringend", "wichtig", "important",
     "meeting", "call", "thanks", "thank", "you", "thx", "danke", "gracias", "merci", "info",
     "information", "inquiry", "enquiry", "anfrage", "frage", "pregunta", "consulta", "update",
     "updates", "follow", "up", "followup", "request", "reminder", "fyi", "greetings", "contact",
     "message", "note", "ping", "draft", "hiya", "yo", "sorry"}
)  # fmt: skip
_GENERIC_PHRASES = frozenset(
    {"no subject", "kein betreff", "ohne betreff", "sin asunto", "sans objet", "nessun oggetto",
     "follow-up", "untitled", "subject"}
)  # fmt: skip


def _strip_leading(subject: str) -> tuple[str, list[str]]:
    """Remove every leading tag/prefix; return the rest and the prefixes found, in order."""
    kinds: list[str] = []
    rest = subject
    while match := _LEADING_RE.match(rest):
        if not match.group().strip():
            break
        token = match.group().strip()
        if _REPLY_RE.fullmatch(token):
            kinds.append("reply")
        elif _FORWARD_RE.fullmatch(token):
            kinds.append("forward")
        rest = rest[match.end() :]
    return rest, kinds


def normalize_subject(subject: str) -> str:
    """Subject without reply/forward prefixes and list tags, whitespace-collapsed, casefolded."""
    rest, _ = _strip_leading(subject or "")
    return " ".join(rest.split()).casefold()


def is_reply_subject(subject: str) -> bool:
    """True when the subject starts (after optional [tags]) with a reply prefix."""
    _, kinds = _strip_leading(subject or "")
    return bool(kinds) and kinds[0] == "reply"


def is_forward_subject(subject: str) -> bool:
    """True when the subject starts (after optional [tags]) with a forward prefix."""
    _, kinds = _strip_leading(subject or "")
    return bool(kinds) and kinds[0] == "forward"


def is_generic_subject(subject: str) -> bool:
    """True when the normalized subject is too generic to join threads on."""
    normalized = normalize_subject(subject)
    bare = normalized.strip("()<>-–—.!?… \t")
    if not bare or bare in _GENERIC_PHRASES:
        return True
    words = re.findall(r"\w+", bare)
    return len(words) <= 2 and all(word in _GENERIC_WORDS for word in words)
