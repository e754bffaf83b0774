"""One deterministic category per inbound message, decided from headers, sender, subject,
body text and the codes mailparse.codes already found. Pure: no I/O, no LLM.

Precedence, first match wins:

1. ``bounce``: a delivery-status report (multipart/report; report-type=delivery-status),
   X-Failed-Recipients, a MAILER-DAEMON/postmaster sender, or a DSN subject such as
   "Undelivered Mail Returned to Sender". First, because bounces quote the original message,
   which may itself look like any other category.
2. ``auto_reply``: Auto-Submitted: auto-replied, X-Autoreply, X-Autorespond,
   Precedence: auto_reply, or an "Out of Office"/"Automatic reply"/"Abwesenheitsnotiz" subject.
   Auto-Submitted values other than "no" and "auto-replied" (auto-generated, auto-notified) mark
   machine mail that is not a reply (RFC 3834 section 5): they do not make an auto_reply but
   count as an automated sender in steps 7 and 8.
3. ``verification``: an OTP, verification link or magic link was found. Before spam, because a
   spam-scored sign-up code is still exactly the mail an agent is waiting for.
4. ``spam``: X-Spam-Flag: YES, X-Spam-Status: Yes, or the GTUBE test string.
5. ``notification`` (strong signals): GitHub/GitLab/Jira notification headers or a calendar
   invitation. Checked before newsletter because these carry List-Id/List-Unsubscribe too.
6. ``newsletter``: List-Unsubscribe, List-Id, Precedence: bulk/list/junk, or "unsubscribe" text.
7. ``financial`` / ``transactional``: financial means invoice/receipt/payment/statement/bank/
   refund wording plus a money amount; transactional means order, shipping, password-reset and
   account notices. Checked in this order: financial wording in the subject, transactional
   wording in the subject, financial wording in the body, then transactional wording in the
   body (the latter only from an automated, no-reply style sender).
8. ``notification``: any other automated sender or Auto-Submitted machine mail.
9. ``personal``: everything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mailparse.codes import CodeExtraction

CATEGORIES = (
    "verification",
    "transactional",
    "notification",
    "newsletter",
    "personal",
    "financial",
    "bounce",
    "auto_reply",
    "spam",
)

_GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|returned mail|mail delivery (?:failed|failure|subsystem)|failure notice"
    r"|delivery status notification \((?:failure|delay)\)|delivery (?:has )?failed"
    r"|unzustellbar|nicht zustellbar|non remis|no se puede entregar|non recapitabile",
    re.IGNORECASE,
)
_AUTO_REPLY_SUBJECT_RE = re.compile(
    r"out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?re(?:ply|sponse)|autoreply"
    r"|abwesenheit|automatische antwort|réponse automatique|respuesta automática"
    r"|fuera de la oficina|absence du bureau|risposta automatica|fuori sede",
    re.IGNORECASE,
)
_CALENDAR_SUBJECT_RE = re.compile(
    r"^(?:updated invitation|invitation|accepted|declined|tentatively accepted|canceled event"
    r"|cancelled event|einladung|aktualisierte einladung|invitación|invitation mise à jour)\s*:",
    re.IGNORECASE,
)
_NOTIFICATION_HEADERS = (
    "x-github-reason",
    "x-gitlab-project",
    "x-gitlab-notificationreason",
    "x-jira-fingerprint",
    "x-bitbucket-event",
)
_UNSUBSCRIBE_RE = re.compile(
    r"unsubscribe|abbestellen|abmelden|désabonner|désinscri|darse de baja|cancelar suscripci"
    r"|annulla iscrizione|disiscriviti",
    re.IGNORECASE,
)
_FINANCIAL_RE = re.compile(
    r"\b(?:invoices?|receipts?|payments?|statements?|bank\w*|refund\w*|billing|charged"
    r"|rechnung|zahlung\w*|quittung|kontoauszug|erstattung|factura|recibo|pago|reembolso"
    r"|facture|reçu|paiement|remboursement|relevé|fattura|ricevuta|pagamento|rimborso)\b",
    re.IGNORECASE,
)
_AMOUNT_RE = re.compile(
    r"[$€£¥₹]\s?\d|\d(?:[\d.,]*\d)?\s?(?:€|\$|£|\b(?:usd|eur|gbp|chf|cad|aud|jpy|inr|sek|nok"
    r"|dkk|pln)\b)|\b(?:usd|eur|gbp|chf|cad|aud|jpy|inr)\s?\d",
    re.IGNORECASE,
)
_TRANSACTIONAL_RE = re.compile(
    r"\border (?:confirm\w*|#|no\.?|number|received|placed)|\byour order\b|\bshipped\b"
    r"|\bshipping (?:confirm\w*|update)|\bshipment\b|out for delivery|has been delivered"
    r"|tracking number|password (?:reset|change|was changed|has been changed)"
    r"|reset your password|account (?:created|activated|updated|deleted|closed|locked|suspended)"
    r"|(?:booking|reservation) confirm\w*"
    r"|bestellbestätigung|ihre bestellung|versandbestätigung|passwort zurücksetzen"
    r"|confirmación de pedido|tu pedido|confirmation de commande|votre commande",
    re.IGNORECASE,
)
# Account notices that a colleague could also write ("Welcome to the team"): automated only.
_ACCOUNT_NOTICE_RE = re.compile(
    r"\bwelcome to\b|new sign-?in|new login|security alert|willkommen bei|bienvenid[oa] a"
    r"|bienvenue (?:chez|sur)",
    re.IGNORECASE,
)
_AUTOMATED_LOCAL_RE = re.compile(
    r"no-?reply|do-?not-?reply|^(?:notifications?|notify|alerts?|mailer|auto\w*|system|info"
    r"|support|orders?|shipping|billing|accounts?|security|updates?|news\w*|hello|team|service"
    r"|receipts?|invoices?|calendar\w*|bot)$|notification|calendar-notification",
    re.IGNORECASE,
)


def categorize(
    *,
    from_address: str,
    subject: str,
    text: str,
    headers: Mapping[str, str],
    content_type: str,
    codes: CodeExtraction,
) -> str:
    """Return one of CATEGORIES for a message; `headers` keys are lower-cased names."""
    local = _local_part(from_address)
    body = f"{subject}\n{text}"
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if _is_bounce(local, subject, headers, content_type):
        return "bounce"
    if _is_auto_reply(auto_submitted, subject, headers):
        return "auto_reply"
    if codes.otp_codes or codes.verification_links or codes.magic_links:
        return "verification"
    if _is_spam(body, headers):
        return "spam"
    calendar = "text/calendar" in f"{content_type} {headers.get('content-type', '')}".lower()
    if calendar or _CALENDAR_SUBJECT_RE.match(subject):
        return "notification"
    if any(name in headers for name in _NOTIFICATION_HEADERS):
        return "notification"
    if _is_newsletter(text, headers):
        return "newsletter"
    # The subject states the mail's purpose, so it decides between financial and transactional
    # before the body does: an order confirmation mentions "payment" and a total too.
    money = bool(_AMOUNT_RE.search(body))
    if money and _FINANCIAL_RE.search(subject):
        return "financial"
    if _TRANSACTIONAL_RE.search(subject):
        return "transactional"
    if money and _FINANCIAL_RE.search(text):
        return "financial"
    automated = bool(_AUTOMATED_LOCAL_RE.search(local)) or auto_submitted not in ("", "no")
    if automated and (_TRANSACTIONAL_RE.search(text) or _ACCOUNT_NOTICE_RE.search(body)):
        return "transactional"
    return "notification" if automated else "personal"


def _local_part(from_address: str) -> str:
    """Local part of the sender, from either "Name <a@b>" or a bare address."""
    inside = re.search(r"<([^>]*)>", from_address or "")
    address = (inside.group(1) if inside else from_address or "").strip()
    return address.rpartition("@")[0] if "@" in address else address


def _is_bounce(local: str, subject: str, headers: Mapping[str, str], content_type: str) -> bool:
    kind = f"{content_type} {headers.get('content-type', '')}".lower()
    if "multipart/report" in kind and "delivery-status" in kind:
        return True
    if "x-failed-recipients" in headers:
        return True
    if local.lower() in ("mailer-daemon", "postmaster"):
        return True
    return bool(_BOUNCE_SUBJECT_RE.search(subject))


def _is_auto_reply(auto_submitted: str, subject: str, headers: Mapping[str, str]) -> bool:
    if auto_submitted.startswith("auto-replied"):
        return True
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return True
    if headers.get("precedence", "").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_REPLY_SUBJECT_RE.search(subject))


def _is_spam(body: str, headers: Mapping[str, str]) -> bool:
    if headers.get("x-spam-flag", "").strip().upper() == "YES":
        return True
    if headers.get("x-spam-status", "").strip().lower().startswith("yes"):
        return True
    return _GTUBE in body


def _is_newsletter(text: str, headers: Mapping[str, str]) -> bool:
    if "list-unsubscribe" in headers or "list-id" in headers:
        return True
    if headers.get("precedence", "").strip().lower() in ("bulk", "list", "junk"):
        return True
    return bool(_UNSUBSCRIBE_RE.search(text))
