"""Tests for mailparse.codes: OTPs, verification/magic links, backup codes and code expiry."""

from __future__ import annotations

import pytest

from mailparse.codes import CodeExtraction, extract_codes


def _otps(text: str, subject: str = "Your sign-in", html: str | None = None) -> tuple[str, ...]:
    return extract_codes(subject=subject, text=text, html=html).otp_codes


# --- OTP codes: what must be found ------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("Your Acme code", "Your verification code is 482913.", "482913"),
        ("482913 is your Acme code", "", "482913"),
        ("Sign in", "Your code: 123 456", "123456"),
        ("Sign in", "Your code: 482-913", "482913"),
        ("Sign in", "Enter this code: 12 34 56", "123456"),
        ("Sign in", "Your one-time passcode is 58203917", "58203917"),
        ("Card", "Your PIN is 7391", "7391"),
        ("Sign in", "Your security code: 2468", "2468"),
        ("Sign in", "Your 2FA code: 901234", "901234"),
        ("Login", "Use the following code to sign in:\n\n    739104\n\nDo not share it.", "739104"),
        ("Login", "739104 is your Instagram code. Don't share it.", "739104"),
        ("Login", "OTP: 5521 (valid once)", "5521"),
        ("Login", "Your Acme account verification code: 482913", "482913"),
        ("Login", "Your order code is 7391", "7391"),
        ("Login", "Your code: 2024", "2024"),
    ],
)
def test_otp_found_when_cued_in_english(subject: str, text: str, expected: str) -> None:
    assert _otps(text, subject=subject)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ihr Bestätigungscode lautet: 552913", "552913"),
        ("Ihre TAN lautet 804216", "804216"),
        ("Tu código de verificación es 804216", "804216"),
        ("Seu código de verificação é 771204", "771204"),
        ("Votre code de vérification : 318 447", "318447"),
        ("Il tuo codice è 660912", "660912"),
        ("Je verificatiecode is 240117", "240117"),
        ("Twój kod weryfikacyjny: 993311", "993311"),
        ("【阿里云】验证码385912，5分钟内有效", "385912"),
        ("認証コード: 123456", "123456"),
    ],
)
def test_otp_found_when_cued_in_other_languages(text: str, expected: str) -> None:
    assert _otps(text, subject="") == (expected,)


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("Verify", "Your verification code is A7K-9QX", "A7K-9QX"),
        ("Verify", "XK4P9Q is your login code", "XK4P9Q"),
        ("G-123456 is your Google verification code", "", "G-123456"),
        ("Verify", "Your code: a7k9qx", "a7k9qx"),
    ],
)
def test_alphanumeric_otp_kept_as_written_when_cued(subject: str, text: str, expected: str) -> None:
    assert _otps(text, subject=subject) == (expected,)


def test_alphanumeric_otp_ignored_without_cue() -> None:
    assert _otps("Your parcel XK4P9Q left the depot.", subject="Parcel") == ()


def test_mixed_case_word_with_digits_ignored_when_cue_not_right_before() -> None:
    assert _otps("Hi johndoe99, here is your verification code: 482913") == ("482913",)


def test_otp_found_when_mail_is_html_only() -> None:
    html = (
        "<html><head><style>td{color:#333333}</style></head><body><table>"
        "<tr><td>Your verification code</td></tr>"
        "<tr><td><strong style='font-size:24px'>482913</strong></td></tr>"
        "<tr><td>It expires in 10 minutes.</td></tr></table></body></html>"
    )
    result = extract_codes(subject="Verify your email", text="", html=html)
    assert result.otp_codes == ("482913",)
    assert result.code_expiry_seconds == 600


def test_otp_found_when_html_splits_groups_into_spans() -> None:
    html = "<p>Your code:</p><p><span>482</span> <span>913</span></p>"
    assert _otps("", html=html) == ("482913",)


def test_otp_html_entities_and_nbsp_are_decoded() -> None:
    assert _otps("", html="<p>Your&nbsp;code&#58;&nbsp;123&nbsp;456</p>") == ("123456",)


def test_otp_not_taken_from_script_or_style() -> None:
    html = "<script>var code = 482913;</script><style>.code{width:123456px}</style><p>Hi</p>"
    assert _otps("", html=html) == ()


def test_otp_deduplicated_across_subject_text_and_html() -> None:
    result = extract_codes(
        subject="482913 is your code",
        text="Your code is 482 913",
        html="<p>Your code is <b>482913</b></p>",
    )
    assert result.otp_codes == ("482913",)


def test_otp_order_puts_subject_first_when_equally_cued() -> None:
    assert _otps("Your code 333444", subject="Your code 111222") == ("111222", "333444")


def test_otp_weak_candidate_dropped_when_strong_one_exists() -> None:
    filler = "Thanks for joining us, we are happy to have you here with the team and all. "
    text = f"Your verification code: 482913\n{filler}\nSession 7788 started."
    assert _otps(text) == ("482913",)


def test_otp_weak_candidate_kept_when_nothing_strong() -> None:
    filler = "Thanks for joining us, we are happy to have you here with the team and all. "
    text = f"Enter the verification code below.\n{filler}\n\n7788\n"
    assert _otps(text) == ("7788",)


def test_otp_weak_candidate_ignored_inside_running_prose() -> None:
    text = "Please verify your email address to finish signing up.\nJoin 15000 developers today."
    assert _otps(text) == ()


def test_otp_ignored_when_no_cue_anywhere() -> None:
    assert _otps("Meeting moved to room 4412, see you there.", subject="Room change") == ()


# --- OTP codes: what must never be returned ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Didn't request this code? Call us at +1 415 555 0100.",
        "Questions about your code? Call (415) 555-0100.",
        "Questions about your code? Call 555-0100.",
        "Code questions: phone 0800 123456",
        "Fragen zum Code? Telefon: 030 1234567",
        "Fragen zum Code? Tel. 030/123456",
        "Code question? Call 415.555.0100",
    ],
)
def test_phone_numbers_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


@pytest.mark.parametrize(
    "text",
    [
        "Your code was requested on 2024-05-01.",
        "Your code was requested on 01/05/2024.",
        "Ihr Code wurde am 01.05.2024 angefordert.",
        "Your code was requested on May 1, 2024.",
        "Verification code requested in 2024.",
        "Code requested 2024 05 01 at 14:45:30",
        "© 2024 Acme Inc. All verification codes are confidential.",
    ],
)
def test_dates_times_and_years_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


@pytest.mark.parametrize(
    "text",
    [
        "Your code unlocks $1,234.00 in credit.",
        "Verification fee: €49",
        "Verification fee 1.234,56 EUR",
        "Verification fee: 1234 EUR",
        "Verification fee: USD 2500",
        "Code valid on orders over 5000 €",
        "Verification code discount: 1500% off",
    ],
)
def test_prices_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


@pytest.mark.parametrize(
    "text",
    [
        "Order #123456 - your verification code will follow.",
        "Order number: 123456. Your code arrives separately.",
        "Invoice 884422 for your verification code purchase",
        "Tracking number 1Z999AA10123456784 (code sent)",
        "Account number: 12345678. Enter your code in the app.",
        "Reference: 55213 (verification)",
        "Ticket 44821: your code problem",
        "Bestellung 123456: Ihr Code folgt.",
        "Card ending in 4242 needs verification code",
    ],
)
def test_order_invoice_tracking_and_account_numbers_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


@pytest.mark.parametrize(
    "text",
    [
        "Your verification code is on its way.\nAcme Inc., 500 Howard St, San Francisco, CA 94105",
        "Your verification code is on its way.\nSan Francisco, CA 94105",
        "Ihr Code ist unterwegs.\nMusterfirma GmbH, Hauptstraße 5, 10115 Berlin",
        "Your code is on its way.\nAcme SAS, 75008 Paris",
        "Your code is on its way.\nVisit us at 12345 Ventura Blvd, Studio City",
    ],
)
def test_postal_codes_in_addresses_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


@pytest.mark.parametrize(
    "text",
    [
        "Verify with your code at https://example.com/verify/482913?ref=771204",
        "We sent the code to john.482913@example.com",
        "Your code went to 48291307@example.com",
        "Code: see https://acme.example/c/5521 for details",
    ],
)
def test_numbers_inside_urls_and_addresses_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


@pytest.mark.parametrize(
    "text",
    [
        "Use code SAVE20 at checkout for 20% off",
        "Promo code WELCOME10 inside!",
        "Your coupon code: SPRING2024",
        "Scan the QR code 4821 at the door",
        "Your ZIP code 94105 is on file",
    ],
)
def test_promo_coupon_qr_and_zip_codes_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


def test_otp_dropped_when_same_number_is_an_order_number_elsewhere() -> None:
    assert _otps("Order #482913 confirmed.\nYour code: 482913") == ()


@pytest.mark.parametrize("text", ["Your code: 123", "Your code: 123456789", "Your code: 1 2 3 4"])
def test_otp_length_outside_four_to_eight_digits_ignored(text: str) -> None:
    assert _otps(text) == ()


@pytest.mark.parametrize(
    "text", ["Your code expires in 1440 minutes", "Code sent. Resend in 3600 seconds"]
)
def test_durations_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


@pytest.mark.parametrize(
    "text", ["Conversion rate for code purchases: 1.0856", "Code check at 10:3045 failed"]
)
def test_digits_after_decimal_point_or_colon_never_returned_as_otp(text: str) -> None:
    assert _otps(text) == ()


# --- verification and magic links -------------------------------------------------------------

_TRACKED = "https://click.mail.example.com/ls/click?upn=AbC123dEf456GhI789jKl"


def test_verification_link_found_by_url_keyword_in_plain_text() -> None:
    url = "https://example.com/verify-email?token=abc123def456"
    result = extract_codes(subject="Welcome", text=f"Welcome!\nGet started: {url}\nThanks")
    assert result.verification_links == (url,)
    assert result.magic_links == ()


@pytest.mark.parametrize(
    "anchor",
    [
        "Confirm your email",
        "Verify email address",
        "Activate account",
        "E-Mail-Adresse bestätigen",
        "Confirmar correo",
        "Vérifier mon adresse",
    ],
)
def test_verification_link_found_by_anchor_text_in_html(anchor: str) -> None:
    html = f'<p>Thanks for signing up.</p><a href="{_TRACKED}">{anchor}</a>'
    assert extract_codes(subject="Welcome", text="", html=html).verification_links == (_TRACKED,)


def test_verification_link_found_from_preceding_line_when_url_is_tokened() -> None:
    url = "https://ex.com/e/9fK2mQ7xL4pZ8wR1"
    text = f"Please confirm your email address by visiting:\n{url}\n"
    assert extract_codes(subject="Confirm", text=text).verification_links == (url,)


def test_verification_link_ignored_when_preceding_sentence_points_to_plain_page() -> None:
    text = "Please verify your email in the app.\nhttps://help.example.com/faq\n"
    assert extract_codes(subject="Verify", text=text).verification_links == ()


def test_href_entities_are_decoded() -> None:
    html = '<a href="https://example.com/verify?u=1&amp;t=abc123">Verify</a>'
    result = extract_codes(subject="", text="", html=html)
    assert result.verification_links == ("https://example.com/verify?u=1&t=abc123",)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("", '<a href="https://slack.com/z-app-123-abc9f8e7d6c5b4a3">Sign in to Slack</a>'),
        ("", '<p>Here is your magic link:</p><a href="https://ex.com/m/q">Open Acme</a>'),
        ("Click to log in:\nhttps://app.x.com/auth/callback?token=9f8e7d6c5b4a", None),
        ("", '<a href="https://app.x.com/login?token=abcdef123456">Log in</a>'),
        ("Einloggen: https://app.x.de/s/Zk39fQp2LmX8aB7c", None),
        ("", '<a href="https://app.x.com/magic-login?token=abcdef123456">Continue</a>'),
        ("Log in here:\nhttps://notion.so/loginwithemail?password=kXq9-ABcd-12&e=j%40x.co", None),
    ],
)
def test_magic_link_found_when_sign_in_link_bears_token(text: str, html: str | None) -> None:
    result = extract_codes(subject="Your sign-in link", text=text, html=html)
    assert len(result.magic_links) == 1
    assert result.verification_links == ()


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/login",
        "https://app.example.com/login?utm_campaign=signin_reminder_2024_05",
    ],
)
def test_magic_link_ignored_when_login_url_has_no_token(url: str) -> None:
    html = f'<p>Your code: 482913</p><a href="{url}">Log in</a>'
    assert extract_codes(subject="Code", text="", html=html).magic_links == ()


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://ex.com/unsubscribe?u=abc123def456ghi789">Verify your preferences</a>',
        '<a href="https://ex.com/privacy">Confirm our privacy policy</a>',
        '<a href="https://shop.com/orders/123/confirmation">View order confirmation</a>',
        '<a href="https://ex.com/r/Zk39fQp2LmX8aB7c">Reset your password</a>',
        '<a href="mailto:verify@example.com">Verify by mail</a>',
    ],
)
def test_unsubscribe_privacy_order_reset_and_mailto_links_never_classified(html: str) -> None:
    result = extract_codes(subject="Verify your email", text="", html=html)
    assert (result.verification_links, result.magic_links) == ((), ())


@pytest.mark.parametrize(
    "anchor", ["Reset your password", "Unsubscribe", "Track your order", "Privacy"]
)
def test_links_worded_as_other_actions_ignored_even_after_verify_sentence(anchor: str) -> None:
    url = "https://ex.com/r/Zk39fQp2LmX8aB7c"
    html = f'<p>Please confirm your email.</p><a href="{url}">{anchor}</a>'
    result = extract_codes(subject="Confirm", text="", html=html)
    assert (result.verification_links, result.magic_links) == ((), ())


def test_link_listed_once_when_text_and_html_disagree_on_its_kind() -> None:
    url = "https://example.com/s/Zk39fQp2LmX8aB7c"
    html = f'<a href="{url}">Sign in</a>'
    result = extract_codes(subject="Welcome", text=f"Verify your email: {url}", html=html)
    assert (result.verification_links, result.magic_links) == ((url,), ())


def test_link_wording_comes_from_its_own_anchor_when_several_share_a_line() -> None:
    login = "https://app.example.com/login?utm_source=email&utm_campaign=weekly2024"
    report = "https://app.example.com/reports/9?ref=email123456789abcdef"
    html = f'<p>Weekly report.</p><a href="{login}">Log in</a> <a href="{report}">View report</a>'
    result = extract_codes(subject="Weekly report", text="", html=html)
    assert (result.verification_links, result.magic_links) == ((), ())


def test_links_deduplicated_across_text_and_html() -> None:
    url = "https://example.com/confirm?token=abc123def456"
    result = extract_codes(
        subject="Confirm", text=f"Confirm: {url}", html=f'<a href="{url}">Confirm</a>'
    )
    assert result.verification_links == (url,)


# --- backup codes -----------------------------------------------------------------------------


def test_backup_codes_found_under_heading_and_kept_as_written() -> None:
    text = "Here are your backup codes:\n\n1234 5678\n2345 6789\n\nKeep them somewhere safe."
    result = extract_codes(subject="Your backup codes", text=text)
    assert result.backup_codes == ("1234 5678", "2345 6789")
    assert result.otp_codes == ()


def test_backup_codes_found_in_bulleted_and_numbered_lists() -> None:
    text = "Recovery codes\nEach code works once:\n- abcde-12345\n- fghij-67890\n1. abcd-efgh\n"
    assert extract_codes(subject="", text=text).backup_codes == (
        "abcde-12345",
        "fghij-67890",
        "abcd-efgh",
    )


def test_backup_codes_found_several_per_line_and_in_html_tables() -> None:
    text = "Backup-Codes:\n1234 5678    8765 4321\n"
    html = "<p>Backup codes</p><table><tr><td>abcd-efgh</td><td>ijkl-mnop</td></tr></table>"
    result = extract_codes(subject="", text=text, html=html)
    assert result.backup_codes == ("1234 5678", "8765 4321", "abcd-efgh", "ijkl-mnop")


def test_backup_codes_stop_at_first_prose_after_the_list() -> None:
    text = "Backup codes:\n1234 5678\n\nNeed help? Call us:\n0800 1234 5678\n"
    assert extract_codes(subject="", text=text).backup_codes == ("1234 5678",)


def test_backup_codes_inline_after_heading_colon() -> None:
    result = extract_codes(subject="", text="Your recovery code: 4f7a-9c2e-11bd")
    assert result.backup_codes == ("4f7a-9c2e-11bd",)


@pytest.mark.parametrize(
    "text",
    [
        "1234 5678\n2345 6789",
        "Your backup codes were regenerated.\nIf this was not you, contact support today.",
        "Backup codes\nKeep these safe and secure\nNever share them",
    ],
)
def test_backup_codes_empty_without_heading_or_code_lines(text: str) -> None:
    assert extract_codes(subject="", text=text).backup_codes == ()


# --- code expiry ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("This code expires in 10 minutes.", 600),
        ("The link is valid for 1 hour.", 3600),
        ("It will expire after 48h.", 172800),
        ("Valid for the next 2 days.", 172800),
        ("This code expires in 30 seconds.", 30),
        ("The code is good for an hour.", 3600),
        ("Der Code ist gültig für 15 Minuten.", 900),
        ("Der Code ist 15 Minuten gültig.", 900),
        ("Der Link läuft in 10 Minuten ab.", 600),
        ("El código caduca en 10 minutos.", 600),
        ("Ce code expire dans 5 minutes.", 300),
        ("Il codice scade tra 10 minuti.", 600),
    ],
)
def test_code_expiry_parsed_when_stated(text: str, seconds: int) -> None:
    assert extract_codes(subject="", text=text).code_expiry_seconds == seconds


@pytest.mark.parametrize(
    "text",
    ["Your code: 482913", "This code expires on May 5.", "Your order ships in 3 days."],
)
def test_code_expiry_none_when_not_stated(text: str) -> None:
    assert extract_codes(subject="", text=text).code_expiry_seconds is None


def test_code_expiry_takes_first_statement() -> None:
    text = "Your code expires in 5 minutes. Your account stays active for 30 days."
    assert extract_codes(subject="", text=text).code_expiry_seconds == 300


# --- shape ------------------------------------------------------------------------------------


def test_extraction_empty_for_personal_mail() -> None:
    text = "Hi Sam,\nlunch on Friday at 12:30? The place on 5th Avenue.\nBest, Alex"
    assert extract_codes(subject="Lunch", text=text) == CodeExtraction()


def test_extraction_is_deterministic() -> None:
    html = '<p>Your code: 482913</p><a href="https://x.com/verify?t=abc123">Verify</a>'
    first = extract_codes(subject="Code", text="Code 482913", html=html)
    assert extract_codes(subject="Code", text="Code 482913", html=html) == first
