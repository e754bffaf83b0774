"""What an agent waits for after signing up somewhere: one-time codes, verification and
magic sign-in links, backup codes and the stated code lifetime, read from subject/text/HTML.

Pure and deterministic: no I/O, no network, no LLM; callers pass already-decoded strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape


@dataclass(frozen=True)
class CodeExtraction:
    """Everything extract_codes found; tuples are deduplicated and ordered best first."""

    otp_codes: tuple[str, ...] = ()
    verification_links: tuple[str, ...] = ()
    magic_links: tuple[str, ...] = ()
    backup_codes: tuple[str, ...] = ()
    code_expiry_seconds: int | None = None


_URL_RE = re.compile(r"(https?://[^\s<>\"'\[\]{}|\\^`]+)", re.I)  # one group, so split() keeps URLs
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "neg" is tried first at each position, so "zip code", "promo code" or "barcode" are consumed
# before their "code" could count as a cue.
_CUE_RE = re.compile(
    r"(?i)(?P<neg>(?:zip|postal|post|area|country|promo|discount|coupon|voucher|gift|referral"
    r"|invit\w*|source|dress|tax|bar|qr)[\s-]?codes?|(?:de|en|uni)codes?|codebase)"
    r"|(?P<cue>codes?|c[oó]digos?|codice|kode|koodi|kod|otp|pass\s?code|\bpin\b|\btan\b"
    r"|one[\s-]?time|einmal|verif|vérif|2fa|mfa|two[\s-]factor|2-step"
    r"|验证码|驗證碼|校验码|認証|確認コード|ワンタイム|인증)"
)
# Labels that, right before a number, say it identifies something other than a login code.
_NEG_BEFORE_RE = re.compile(
    r"(?i)\b(?:orders?|invoice|inv|tracking|track|account|acct|reference|ref|ticket|case|customer"
    r"|member(?:ship)?|booking|reservation|transaction|txn|receipt|po|box|suite|ste|apt|unit"
    r"|flight|phone|tel|telephone|fax|mobile|cell|call|sms|whatsapp|zip|postal|postcode|plz"
    r"|total|amount|price|cost|balance|subtotal|paid|pay|charged|due|no|nr|number|num|id"
    r"|ending|last|copyright|usd|eur|gbp|chf|jpy|cad|aud|inr|sek|nok|dkk|kr|bestellung\w*"
    r"|rechnung\w*|kundennummer|sendungsnummer|auftrag\w*|pedido|factura|commande|facture)\b"
    r"|[#№°º©$€£¥₹+]"
)
_UNITS = (
    r"seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|sekunden?|minuten?|stunden?|tagen?|tage"
    r"|segundos?|minutos?|horas?|d[ií]as?|secondes?|heures?|jours?|secondi|minuti|ore|ora"
    r"|giorni|giorno|h|min"
)
_POST_REJECT_RE = re.compile(
    r"(?i)^(?:[.,:/]\d|\s?(?:%|€|\$|£|¥|₹|(?:eur|usd|gbp|chf|jpy|kr|sek|nok|dkk|px|kb|mb|gb)\b"
    rf"|(?:{_UNITS})\b))"
)
_PROMO_RE = re.compile(r"% off|\boff\b|checkout|discount|coupon|voucher|gutschein|rabatt", re.I)
_STREET_RE = re.compile(
    r"(?i)\b(?:street|st\.|avenue|ave\.?|road|rd\.|blvd|boulevard|suite|floor|pkwy|parkway|highway"
    r"|stra(?:ß|ss)e|str\.|rue|calle|platz|weg|lane|drive)\b"
)
# "CA 94105" (US state + ZIP) and "10115 Berlin" / "75008 Paris" opening an address part.
_ZIP_RE = re.compile(r"\b[A-Z]{2}\s+(\d{5})\b|(?:^|,\s*)(\d{4,5})\s+[A-ZÄÖÜÉ][a-zäöüßéè]+")
# ASCII boundaries, so codes glued to CJK text ("验证码385912，") are still found.
_DIGIT_RUN_RE = re.compile(r"(?<![0-9A-Za-z_])\d+(?:[ -]\d+)*(?![0-9A-Za-z_])")
_ALNUM_RE = re.compile(r"(?<![0-9A-Za-z_-])[A-Za-z0-9]+(?:-[A-Za-z0-9]+){0,2}(?![0-9A-Za-z_-])")
_DATE_RE = re.compile(r"(?:19|20)\d\d[ -](?:0[1-9]|1[0-2])[ -]\d\d|\d\d[ -]\d\d[ -](?:19|20)\d\d")
_GLUE_RE = re.compile(r"\W{0,3}(?:(?:is|lautet|est|es|è)\W{1,3})?")
_STRONG, _WEAK, _REJECTED = 2, 1, -1


def extract_codes(*, subject: str, text: str, html: str | None = None) -> CodeExtraction:
    """Find OTPs, verification/magic links, backup codes and code expiry in one mail."""
    parts = [subject, text, _html_to_text(html) if html else ""]
    parts = [re.sub(r"[\u00a0\u2007\u2009\u202f]", " ", part or "") for part in parts]
    backups = tuple(dict.fromkeys(code for part in parts for code in _backup_codes(part)))
    backup_keys = {_squash(code) for code in backups}  # listed backup codes are never OTPs
    found = [(c, (-score, i, at)) for i, part in enumerate(parts) for score, at, c in _otps(part)]
    # A code that reads as a price, order number or promo anywhere in the mail is not an OTP.
    rejected = {_squash(code) for code, rank in found if rank[0] == -_REJECTED} | backup_keys
    ranked: dict[str, tuple[int, int, int]] = {}
    for code, rank in found:
        if _squash(code) not in rejected and rank < ranked.get(code, (9, 0, 0)):
            ranked[code] = rank
    # A mail with a clearly labelled code rarely holds a second real code that is only loosely
    # labelled, so weak candidates survive only when nothing strong was found.
    best = min((rank[0] for rank in ranked.values()), default=0)
    otps = sorted((c for c, r in ranked.items() if r[0] == best), key=ranked.__getitem__)
    links = [link for part in parts[1:] for link in _classified_links(part)]
    verify = tuple(dict.fromkeys(url for url, kind in links if kind == "verify"))
    return CodeExtraction(
        otp_codes=tuple(otps),
        verification_links=verify,
        magic_links=tuple(dict.fromkeys(u for u, k in links if k == "magic" and u not in verify)),
        backup_codes=backups,
        code_expiry_seconds=_expiry_seconds("\n".join(parts)),
    )


_HIDDEN_RE = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
# The href goes right after its anchor text, so HTML links are classified by their wording in
# the same line-based pass as plain-text links.
_ANCHOR_RE = re.compile(r"<a\b[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]+)[^>]*>(.*?)</a\s*>", re.I | re.S)
_BLOCK_TAG_RE = re.compile(r"</?(?:br|p|div|tr|li|ul|ol|table|h[1-6]|hr|pre|center)\b[^>]*>", re.I)


def _html_to_text(html: str) -> str:
    """Render HTML as plain lines, with each link's href written after its anchor text."""
    text = _HIDDEN_RE.sub(" ", re.sub(r"\s+", " ", html))
    text = _ANCHOR_RE.sub(lambda m: f" {m[2]} [{m[1]}] " if _URL_RE.match(m[1]) else m[2], text)
    text = _BLOCK_TAG_RE.sub("\n", text)
    # Two spaces keep table cells apart without joining them into one "123 456" group.
    text = unescape(re.sub(r"<[^>]*>", "", re.sub(r"<t[dh]\b", "  <td", text, flags=re.I)))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(ln.strip() for ln in text.splitlines())).strip()


def _squash(code: str) -> str:
    return re.sub(r"[\s-]", "", code).casefold()


def _cue_score(text: str, cues: list[int], start: int, end: int) -> int:
    gap = min((start - c if c < start else c - end for c in cues), default=999)
    # A loosely cued number only counts when shown alone on its line, the way code boxes are.
    around = text[text.rfind("\n", 0, start) + 1 : start] + text[end:].split("\n", 1)[0]
    return _STRONG if gap <= 40 else _WEAK if gap <= 160 and not around.strip() else 0


def _cue_right_before(text: str, start: int) -> bool:
    """True for "code: X", "code is X", "Code lautet X": only glue between the cue and X."""
    window = text[max(0, start - 32) : start]
    return any(_GLUE_RE.fullmatch(window, m.end()) for m in _CUE_RE.finditer(window) if m["cue"])


def _rejected_by_context(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line = text[line_start:].split("\n", 1)[0]
    before = text[max(line_start, start - 30) : start]
    if re.search(r"\d[.,:/]\s?$|\(\d{3}\)\s?$|[A-Za-z]-$", before):
        return True  # tail of a date, time, decimal, "(415) 555-0100" or "G-123456"
    if _POST_REJECT_RE.match(text[end : end + 12]):
        return True
    negs = [m.end() for m in _NEG_BEFORE_RE.finditer(before)]
    cues = [m.end() for m in _CUE_RE.finditer(before) if m["cue"]]
    # A cue between the label and the number wins: "account code: 1234" is still a code.
    if negs and (not cues or max(negs) > max(cues)):
        return True
    zip_code = any(m.start(m.lastindex or 0) == start - line_start for m in _ZIP_RE.finditer(line))
    return zip_code or bool(_STREET_RE.search(line) or _PROMO_RE.search(line))


def _otps(raw: str) -> list[tuple[int, int, str]]:
    """(score, offset, code) for cued codes, and _REJECTED where the context rules one out."""
    text = _EMAIL_RE.sub(lambda m: " " * len(m[0]), _URL_RE.sub(lambda m: " " * len(m[0]), raw))
    cues = [m.start() for m in _CUE_RE.finditer(text) if m["cue"]]
    found: list[tuple[int, int, str]] = []
    for m in _ALNUM_RE.finditer(text):
        bare = m[0].replace("-", "")
        if not (re.search(r"\d", bare) and re.search(r"[A-Za-z]", bare) and 5 <= len(bare) <= 12):
            continue
        # Mixed-case tokens are often user names ("johndoe99"): they need a cue right before.
        if m[0].isupper() or _cue_right_before(text, m.start()):
            score = _STRONG if _cue_score(text, cues, *m.span()) == _STRONG else 0
            rejected = _rejected_by_context(text, *m.span())
            found.append((_REJECTED if rejected else score, m.start(), m[0]))
    taken = [(start, start + len(code)) for _, start, code in found]
    for m in _DIGIT_RUN_RE.finditer(text):
        groups = re.split(r"[ -]", m[0])
        digits = "".join(groups)
        grouped_ok = len(groups) == 1 or all(2 <= len(g) <= 4 for g in groups)
        if not (grouped_ok and 4 <= len(digits) <= 8) or _DATE_RE.fullmatch(m[0]):
            continue
        if any(s <= m.start() < e for s, e in taken):
            continue
        score = _cue_score(text, cues, *m.span())
        if len(groups) == 1 and re.fullmatch(r"(?:19|20)\d\d", digits):
            # A bare year is only a code with a cue right in front ("code: 2024").
            score = _STRONG if _cue_right_before(text, m.start()) else 0
        rejected = _rejected_by_context(text, *m.span())
        found.append((_REJECTED if rejected else score, m.start(), digits))
    return [candidate for candidate in found if candidate[0]]


_BACKUP_HEAD_RE = re.compile(
    r"(?i)(?:backup|recovery|reserve|wiederherstellungs|sicherungs|notfall)[\s-]*(?:codes?|kod\w*)"
    r"|c[óo]digos? de (?:respaldo|recuperaci[óo]n)|codes? de (?:secours|récupération)"
)
_BACKUP_ITEM_RE = re.compile(r"(?=.*(?:\d|-))[A-Za-z0-9]{3,10}(?:[- ][A-Za-z0-9]{3,10}){0,2}")


def _backup_items(line: str) -> list[str] | None:
    """The codes on a line when the whole line is a list of codes, else None."""
    pieces = [p for p in re.split(r"\s{2,}|\t|[,;]\s*", line.strip()) if p]
    items = [re.sub(r"^(?:\d{1,2}[.)]|[-*•·])\s+", "", p) for p in pieces]
    ok = items and all(_BACKUP_ITEM_RE.fullmatch(i) and len(i) >= 6 for i in items)
    return items if ok else None


def _backup_codes(text: str) -> list[str]:
    codes: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not (head := _BACKUP_HEAD_RE.search(line)):
            continue
        found = _backup_items(line[head.end() :].partition(":")[2]) or []
        skipped = 0
        for following in lines[index + 1 :]:
            items = _backup_items(following) if following.strip() else []
            found.extend(items or [])
            if items is None:
                # An intro line or two ("Each code works once:") may precede the list.
                skipped += 1
                if found or skipped > 2:
                    break
        codes.extend(found)
    return codes


# Spelled-out amounts are only ever "one" in practice ("an hour", "eine Stunde", "une heure").
_DURATION = rf"(\d{{1,4}}|an?|one|eine?r?|une?|una)\s*({_UNITS})\b"
_EXPIRY_CUE = (
    r"(?:expir\w*|valid[oa]?|good|active|gültig|läuft|verfällt|caduca\w*|vence\w*|válid[oa]"
    r"|valable|valide|scad\w*)"
)
_EXPIRY_RES = (
    re.compile(rf"\b{_EXPIRY_CUE}\b[^.\n\d]{{0,30}}?\b{_DURATION}", re.I),
    re.compile(rf"\b{_DURATION}\s+(?:lang\s+)?{_EXPIRY_CUE}\b", re.I),  # "15 Minuten gültig"
)
# Prefixes of the matched unit word; days ("tage", "jours", "días") are the fallback.
_UNIT_SECONDS = (("se", 1), ("min", 60), ("h", 3600), ("stund", 3600), ("or", 3600))


def _expiry_seconds(text: str) -> int | None:
    matches = [m for pattern in _EXPIRY_RES for m in pattern.finditer(text)]
    if not matches:
        return None
    first = min(matches, key=lambda m: m.start())
    amount, unit = first[1].lower(), first[2].lower()
    count = int(amount) if amount.isdigit() else 1
    return count * next((s for prefix, s in _UNIT_SECONDS if unit.startswith(prefix)), 86400)


_BLOCK_URL_RE = re.compile(r"unsubscribe|opt-?out|preferences|privacy|terms|\borders?\b", re.I)
_BLOCK_TEXT_RE = re.compile(
    r"(?i)unsubscribe|abbestellen|abmelden|désabonner|darse de baja|\border|bestellung|pedido"
    r"|commande|tracking|shipment|privacy|terms|\breset\b|zurücksetzen|restablecer|réinitialiser"
)
_VERIFY_URL_RE = re.compile(r"verif|confirm|activat|validat|bestaetig|aktivier", re.I)
_MAGIC_URL_RE = re.compile(r"magic|sign-?in|log-?in|passwordless|auth/callback", re.I)
_VERIFY_TEXT_RE = re.compile(
    r"(?i)\b(?:verify|confirm(?!ation)|activate|validate|bestätigen|aktivieren|verifizieren"
    r"|confirmar|activar|verificar|vérifier|confirmer|activer|valider|confermare|attivare)\b"
)
_MAGIC_TEXT_RE = re.compile(
    r"\b(?:sign|log)[\s-]?in\b|\blogin\b|anmelden|einloggen|iniciar sesi[óo]n|se connecter", re.I
)
_TOKEN_PARAM_RE = re.compile(r"[?&;](?:token|code|otp|key|hash|sig|nonce|auth|pass\w*|k|t)=[^&]{6}")


def _classified_links(text: str) -> list[tuple[str, str]]:
    """(url, "verify" | "magic") for each link whose URL or wording says what it does."""
    found: list[tuple[str, str]] = []
    previous = ""
    for line in text.splitlines():
        pieces = _URL_RE.split(line)  # text, url, text, url, ..., text
        for i in range(1, len(pieces), 2):
            # A link's own wording is the text just before it (an anchor's text in rendered
            # HTML), else the text just after it; the previous line is the fallback.
            own = pieces[i - 1].strip(" []<>") or pieces[i + 1].strip(" []<>")
            url = pieces[i].rstrip(".,;:!?)'\"")
            if kind := _link_kind(url, own, previous):
                found.append((url, kind))
        previous = _URL_RE.sub(" ", line).strip(" []<>") if line.strip() else previous
    return found


def _has_token(url: str) -> bool:
    rest = re.sub(r"utm_\w+=[^&]*", "", url.split("://", 1)[-1].partition("/")[2])
    return bool(_TOKEN_PARAM_RE.search(rest)) or any(
        re.search(r"\d", t) and re.search(r"[A-Za-z]", t)
        for t in re.findall(r"[A-Za-z0-9_.~%-]{16,}", rest)
    )


def _link_kind(url: str, own: str, previous: str) -> str | None:
    if _BLOCK_URL_RE.search(url) or _BLOCK_TEXT_RE.search(own):
        return None
    path, token = url.split("://", 1)[-1].partition("/")[2], _has_token(url)
    if _MAGIC_URL_RE.search(path) and token:
        return "magic"
    if _VERIFY_URL_RE.search(path):
        return "verify"
    # The link's own wording decides first; the line before it only when the link says nothing.
    for context, is_own in ((own, True), (previous, False)):
        if "magic link" in context.lower():
            return "magic"
        if _VERIFY_TEXT_RE.search(context):
            # Explicit anchor wording is enough; a nearby sentence also needs a token-bearing URL.
            return "verify" if token or is_own else None
        if _MAGIC_TEXT_RE.search(context):
            return "magic" if token else None
    return None
