"""Plain-text reply structure: RFC 3676 format=flowed (unflow) and quoted history (strip_quotes).

Owns the reply-header and signature patterns (Gmail, Apple Mail, Outlook, Yahoo, in several
languages). Forwarded-message blocks are kept on purpose: in a forward they are the content.
Pure: no I/O, never raises.
"""

import re

# "On Mon, 1 Jan 2024 at 10:00, Ann <ann@example.com> wrote:" and its translations. Matched
# against up to three joined lines because clients wrap long attributions.
_WROTE = re.compile(
    r"^\s*(?:On|Le|Am|El|Il|Op|Em|W dniu|Den|På|Dne|Στις|В)\b.{0,400}?\s"
    r"(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef|escreveu|pisze|napisał|skrev|"
    r"napsal|kirjoitti|έγραψε|написала?|написал\(а\)|yazdı)(?!\w).{0,200}:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_WROTE_START = re.compile(r"^\s*(?:On|Le|Am|El|Il|Op|Em|W dniu|Den|På|Dne|Στις|В)\b", re.I)
_WROTE_VERBS = (
    "wrote", "a écrit", "schrieb", "escribió", "ha scritto", "schreef", "escreveu", "pisze",
    "napisał", "skrev", "napsal", "kirjoitti", "έγραψε", "написал", "yazdı",
)  # fmt: skip
_CJK_HINT = re.compile("写道|寫道|年")
_WROTE_CJK = re.compile(
    r"^\s*(?:在.{0,300}写道|.{0,300}寫道|\d{4}年\d{1,2}月\d{1,2}日.{0,300}(?:<[^>]+@[^>]+>|書きました))"
    r"\s*[:：]\s*$",
    re.DOTALL,
)
_MAX_ATTRIBUTION = 500
_DIGIT = re.compile(r"\d")
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Originalnachricht|"
    r"Message d'origine|Mensaje original|Messaggio originale|Oorspronkelijk bericht|"
    r"Mensagem original|Původní zpráva|Oryginalna wiadomość|Originalmeddelande|"
    r"Opprinnelig melding|Oprindelig meddelelse|Alkuperäinen viesti|Исходное сообщение|"
    r"原始邮件|元のメッセージ)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Outlook's reply header: a "From:" line soon followed by a "Sent:" line (localised names).
_OUTLOOK_FROM = re.compile(
    r"^\s*\*?(?:From|De|Von|Da|Van|Från|Fra|Od|Lähettäjä|От|差出人|发件人|寄件者)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_OUTLOOK_SENT = re.compile(
    r"^\s*\*?(?:Sent|Envoyé|Gesendet|Enviado(?: el)?|Inviato|Verzonden|Skickat|Sendt|"
    r"Wysłano|Odesláno|Lähetetty|Отправлено|送信日時|发送时间|傳送時間)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:Sent (?:from|via|with) (?:my |the )?\S.{0,60}|Get Outlook for \S.{0,40}|"
    r"Envoyé de mon \S.{0,40}|Von meinem \S.{0,40} gesendet|Enviado desde mi \S.{0,40}|"
    r"Enviado do meu \S.{0,40}|Inviato da(?: il mio)? \S.{0,40}|Verzonden (?:vanaf|met) \S.{0,40}|"
    r"Skickat från min \S.{0,40}|Sendt fra min \S.{0,40}|Wysłane z mojego \S.{0,40})\s*$",
    re.IGNORECASE,
)


def _is_attribution(joined: str, western: bool) -> bool:
    # Cheap substring tests first: the full patterns backtrack over every position of the line.
    lowered = joined.lower()
    if western and any(verb in lowered for verb in _WROTE_VERBS) and _WROTE.match(joined):
        return True
    return bool(_CJK_HINT.search(joined)) and bool(_WROTE_CJK.match(joined))


def _is_quote_header(lines: list[str], index: int) -> bool:
    western = bool(_WROTE_START.match(lines[index]))
    for end in range(index + 1, min(index + 3, len(lines)) + 1):
        # An attribution always ends in a colon; checking that first keeps long bodies fast.
        if not lines[end - 1].rstrip().endswith((":", "：")):
            continue
        joined = " ".join(line.strip() for line in lines[index:end])
        # Attributions carry a date or time ("On this topic, here is what I wrote:" does not) and
        # are short; both checks also keep hostile bodies from making the regexes below slow.
        if len(joined) > _MAX_ATTRIBUTION or not _DIGIT.search(joined):
            continue
        if _is_attribution(joined, western):
            return True
    if _ORIGINAL_MESSAGE.match(lines[index]):
        return True
    if _OUTLOOK_FROM.match(lines[index]):
        return any(_OUTLOOK_SENT.match(line) for line in lines[index + 1 : index + 5])
    if _RULE.match(lines[index]):
        following = [line for line in lines[index + 1 : index + 4] if line.strip()]
        return bool(following) and bool(_OUTLOOK_FROM.match(following[0]))
    return False


def _cut_quote_header(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if line.strip() and _is_quote_header(lines, index):
            return lines[:index]
    return lines


def _cut_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        # A "--" first line is more likely a rule than an empty reply with a signature.
        if (index and _SIGNATURE_DELIMITER.match(line)) or _MOBILE_SIGNATURE.match(line):
            return lines[:index]
    return lines


def strip_quotes(text: str) -> str:
    """Return the new content of a reply: quoted history and signature removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = _cut_quote_header(lines)
    # Inline replies interleave new text with "> " lines; keep the new text, drop the quotes.
    lines = [line for line in lines if not line.lstrip().startswith(">")]
    lines = _cut_signature(lines)
    return "\n".join(lines).strip()


def unflow(text: str, delsp: bool) -> str:
    """Join RFC 3676 format=flowed soft line breaks; `text` must use "\n" line endings."""
    out: list[str] = []
    paragraph: str | None = None
    paragraph_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        content = content[1:] if content.startswith(" ") else content  # space-stuffing
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if paragraph is not None and depth != paragraph_depth:
            out.append(_quoted(paragraph, paragraph_depth))  # a quote level ends a paragraph
            paragraph = None
        paragraph = content if paragraph is None else paragraph + content
        paragraph_depth = depth
        if not soft:
            out.append(_quoted(paragraph, depth))
            paragraph = None
    if paragraph is not None:
        out.append(_quoted(paragraph, paragraph_depth))
    return "\n".join(out)


def _quoted(content: str, depth: int) -> str:
    return f"{'>' * depth} {content}" if depth else content
