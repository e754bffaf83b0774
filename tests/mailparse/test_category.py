"""Tests for mailparse.category: one deterministic category per message, with precedence."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mailparse.category import CATEGORIES, categorize
from mailparse.codes import CodeExtraction, extract_codes

_OTP = CodeExtraction(otp_codes=("482913",))
_GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def _category(
    *,
    from_address: str = "Alex Doe <alex@example.com>",
    subject: str = "Lunch on Friday?",
    text: str = "Hi Sam, are you free for lunch on Friday? Alex",
    headers: Mapping[str, str] | None = None,
    content_type: str = "text/plain",
    codes: CodeExtraction | None = None,
) -> str:
    return categorize(
        from_address=from_address,
        subject=subject,
        text=text,
        headers=headers or {},
        content_type=content_type,
        codes=codes or CodeExtraction(),
    )


def test_categories_tuple_lists_the_nine_categories() -> None:
    assert set(CATEGORIES) == {
        "verification",
        "transactional",
        "notification",
        "newsletter",
        "personal",
        "financial",
        "bounce",
        "auto_reply",
        "spam",
    }


def test_personal_when_a_person_writes_plainly() -> None:
    assert _category() == "personal"


# --- bounce -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"content_type": "multipart/report; report-type=delivery-status; boundary=x"},
        {
            "content_type": "multipart/report",
            "headers": {"content-type": "multipart/report; report-type=delivery-status"},
        },
        {"from_address": "MAILER-DAEMON@mx.example.com (Mail Delivery System)"},
        {"from_address": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"},
        {"from_address": "postmaster@example.org"},
        {"subject": "Undelivered Mail Returned to Sender"},
        {"subject": "Delivery Status Notification (Failure)"},
        {"subject": "Mail delivery failed: returning message to sender"},
        {"subject": "Unzustellbar: Angebot"},
        {"headers": {"x-failed-recipients": "bob@example.com"}},
    ],
)
def test_bounce_detected_from_report_sender_subject_or_header(kwargs: dict[str, object]) -> None:
    assert _category(**kwargs) == "bounce"  # type: ignore[arg-type]


def test_bounce_wins_over_codes_quoted_from_original_message() -> None:
    assert _category(subject="Undelivered Mail Returned to Sender", codes=_OTP) == "bounce"


def test_read_receipt_report_is_not_a_bounce() -> None:
    report = "multipart/report; report-type=disposition-notification"
    assert _category(content_type=report) == "personal"


# --- auto_reply -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"headers": {"auto-submitted": "auto-replied"}},
        {"headers": {"auto-submitted": "auto-replied; owner-email=a@example.com"}},
        {"headers": {"x-autoreply": "yes"}},
        {"headers": {"x-autorespond": "Out of office"}},
        {"headers": {"precedence": "auto_reply"}},
        {"subject": "Out of Office: Lunch on Friday?"},
        {"subject": "Automatic reply: Lunch on Friday?"},
        {"subject": "Abwesenheitsnotiz: Mittagessen"},
        {"subject": "Réponse automatique : Déjeuner"},
        {"subject": "Respuesta automática: Almuerzo"},
    ],
)
def test_auto_reply_detected_from_headers_or_subject(kwargs: dict[str, object]) -> None:
    assert _category(**kwargs) == "auto_reply"  # type: ignore[arg-type]


def test_auto_reply_wins_over_codes() -> None:
    assert _category(subject="Automatic reply: your code", codes=_OTP) == "auto_reply"


@pytest.mark.parametrize("value", ["auto-generated", "auto-notified"])
def test_auto_generated_mail_is_not_an_auto_reply(value: str) -> None:
    # RFC 3834: auto-generated mail is machine mail, not a reply to the recipient.
    assert _category(headers={"auto-submitted": value}) == "notification"


def test_auto_generated_mail_with_code_is_verification() -> None:
    headers = {"auto-submitted": "auto-generated"}
    assert _category(headers=headers, codes=_OTP) == "verification"


def test_auto_submitted_no_is_a_person() -> None:
    assert _category(headers={"auto-submitted": "no"}) == "personal"


# --- verification -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "codes",
    [
        CodeExtraction(otp_codes=("482913",)),
        CodeExtraction(verification_links=("https://example.com/verify?t=abc123",)),
        CodeExtraction(magic_links=("https://example.com/login?token=abc123def",)),
    ],
)
def test_verification_when_codes_or_links_found(codes: CodeExtraction) -> None:
    assert _category(from_address="no-reply@acme.com", codes=codes) == "verification"


def test_verification_not_triggered_by_backup_codes_alone() -> None:
    codes = CodeExtraction(backup_codes=("1234 5678",))
    assert _category(from_address="no-reply@acme.com", codes=codes) != "verification"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-spam-flag": "YES"},
        {"list-unsubscribe": "<https://acme.com/u/1>"},
    ],
)
def test_verification_wins_over_spam_flag_and_list_headers(headers: dict[str, str]) -> None:
    assert _category(headers=headers, codes=_OTP) == "verification"


def test_verification_end_to_end_from_extracted_codes() -> None:
    subject, text = "Your Acme code", "Your verification code is 482913. It expires in 10 minutes."
    codes = extract_codes(subject=subject, text=text)
    result = _category(
        from_address="Acme <no-reply@acme.com>", subject=subject, text=text, codes=codes
    )
    assert result == "verification"


# --- spam -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"headers": {"x-spam-flag": "YES"}},
        {"headers": {"x-spam-flag": " yes "}},
        {"headers": {"x-spam-status": "Yes, score=12.3 required=5.0 tests=GTUBE"}},
        {"text": f"Hello\n{_GTUBE}\n"},
        {"subject": _GTUBE},
    ],
)
def test_spam_detected_from_flags_or_gtube(kwargs: dict[str, object]) -> None:
    assert _category(**kwargs) == "spam"  # type: ignore[arg-type]


def test_spam_status_no_is_not_spam() -> None:
    assert _category(headers={"x-spam-status": "No, score=0.1 required=5.0"}) == "personal"


def test_spam_wins_over_newsletter_headers() -> None:
    headers = {"x-spam-flag": "YES", "list-unsubscribe": "<https://x.com/u>"}
    assert _category(headers=headers) == "spam"


# --- newsletter -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"headers": {"list-unsubscribe": "<mailto:unsub@news.acme.com>"}},
        {"headers": {"list-id": "Acme Weekly <weekly.acme.com>"}},
        {"headers": {"precedence": "bulk"}},
        {"headers": {"precedence": "list"}},
        {"text": "This week's top stories...\nTo unsubscribe click here."},
        {"text": "Die Neuigkeiten der Woche.\nNewsletter abbestellen"},
        {"text": "Las noticias de la semana.\nPara darse de baja haga clic aquí."},
    ],
)
def test_newsletter_detected_from_list_headers_or_unsubscribe_text(
    kwargs: dict[str, object],
) -> None:
    params = {"from_address": "Acme News <news@acme.com>", "subject": "This week at Acme", **kwargs}
    assert _category(**params) == "newsletter"  # type: ignore[arg-type]


def test_newsletter_wins_over_financial_wording() -> None:
    text = "Save on payments: plans from $9/month.\nUnsubscribe"
    assert _category(subject="Acme deals", text=text) == "newsletter"


# --- notification (strong signals) ------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {
            "from_address": "octocat <notifications@github.com>",
            "subject": "Re: [acme/api] Fix rate limiter (PR #42)",
            "headers": {
                "x-github-reason": "review_requested",
                "list-id": "acme/api <api.acme.github.com>",
                "list-unsubscribe": "<mailto:unsub@github.com>",
                "precedence": "list",
            },
        },
        {"headers": {"x-gitlab-project": "api", "list-id": "<api.gitlab.example.com>"}},
        {"content_type": "text/calendar; method=REQUEST", "headers": {"precedence": "bulk"}},
        {
            "from_address": "Google Calendar <calendar-notification@google.com>",
            "subject": "Invitation: Sync @ Wed May 1, 2024 10am - 11am (PDT)",
            "text": "Join with Google Meet. Unsubscribe from event notifications.",
        },
        {"subject": "Accepted: Sync @ Wed May 1"},
    ],
)
def test_notification_wins_over_list_headers_for_known_tools(kwargs: dict[str, object]) -> None:
    assert _category(**kwargs) == "notification"  # type: ignore[arg-type]


# --- financial --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Your receipt from Acme #2231-8812", "Amount paid $20.00\nPayment method Visa"),
        ("Invoice INV-0042", "Please find attached your invoice for EUR 1.234,56."),
        ("Refund processed", "We refunded 49,99 € to your card."),
        ("Your monthly statement", "Your bank statement is ready. Balance: £1,020.44"),
        ("Ihre Rechnung", "Rechnungsbetrag: 120,00 EUR"),
        ("Tu factura", "Importe total: 35,00 €"),
        ("Payment received", "We received your payment of USD 300."),
    ],
)
def test_financial_when_money_wording_has_an_amount(subject: str, text: str) -> None:
    assert _category(from_address="billing@acme.com", subject=subject, text=text) == "financial"


def test_transactional_subject_wins_over_payment_wording_in_body() -> None:
    text = "Thanks for your order!\nPayment method: Visa\nTotal $57.19"
    result = _category(from_address="shop@shop.com", subject="Order #1043 confirmed", text=text)
    assert result == "transactional"


def test_financial_subject_wins_over_order_wording_in_body() -> None:
    text = "Your order #1043 has shipped.\nTotal $57.19"
    result = _category(from_address="shop@shop.com", subject="Your receipt", text=text)
    assert result == "financial"


def test_financial_needs_an_amount() -> None:
    text = "We have updated our payment terms. Read them on our website."
    result = _category(from_address="no-reply@acme.com", subject="Payment terms", text=text)
    assert result == "notification"


def test_financial_needs_money_wording() -> None:
    text = "Tickets are $20 at the door, see you there!"
    assert _category(subject="Concert on Friday", text=text) == "personal"


# --- transactional ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_address", "subject", "text"),
    [
        ("orders@shop.com", "Order #1043 confirmed", "Thanks for your order."),
        ("shop@shop.com", "Your order has shipped", "Tracking number 1Z999AA10123456784."),
        ("no-reply@shop.com", "On its way", "Your order is out for delivery today."),
        ("no-reply@acme.com", "Password reset request", "Click below to reset your password."),
        ("no-reply@acme.com", "Security notice", "Your account password was changed."),
        ("no-reply@acme.com", "Account update", "Your account locked after 5 failed attempts."),
        ("no-reply@acme.com", "Welcome to Acme", "Welcome to Acme! Your workspace is ready."),
        ("noreply@acme.de", "Ihre Bestellung", "Vielen Dank für Ihre Bestellung."),
        ("no-reply@tienda.es", "Tu pedido", "Confirmación de pedido 1043."),
        ("no-reply@airline.com", "Booking confirmation", "Your booking confirmation ABC123."),
    ],
)
def test_transactional_for_order_shipping_password_and_account_notices(
    from_address: str, subject: str, text: str
) -> None:
    assert _category(from_address=from_address, subject=subject, text=text) == "transactional"


def test_transactional_body_wording_needs_an_automated_sender() -> None:
    text = "Hi! Welcome to the team, and your password was changed on the wiki. Alex"
    assert _category(subject="Hi", text=text) == "personal"


# --- notification (fallback) and personal -----------------------------------------------------


@pytest.mark.parametrize(
    "from_address",
    [
        "no-reply@acme.com",
        "Acme <noreply@acme.com>",
        "donotreply@bank.example",
        "alerts@monitoring.example",
        "notifications@service.example",
        "calendar-notification@google.com",
    ],
)
def test_notification_for_other_automated_senders(from_address: str) -> None:
    text = "Your weekly usage summary is ready."
    assert (
        _category(from_address=from_address, subject="Weekly summary", text=text) == "notification"
    )


@pytest.mark.parametrize(
    "from_address", ["alex@example.com", "Alex <alex.doe@example.com>", "support-team-lead@x.io"]
)
def test_personal_for_people_without_other_signals(from_address: str) -> None:
    assert _category(from_address=from_address) == "personal"


def test_categorize_always_returns_a_known_category() -> None:
    samples = [
        _category(),
        _category(codes=_OTP),
        _category(headers={"precedence": "bulk"}),
        _category(from_address="postmaster@x.org"),
    ]
    assert set(samples) <= set(CATEGORIES)
