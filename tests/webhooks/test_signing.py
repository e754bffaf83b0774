"""Standard Webhooks signatures, checked with the `standardwebhooks` package (an implementation
we did not write): a single secret, a rotation overlap (two signatures), and tampering."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from crypto import webhook_signing

BODY = '{"id":"evt_1","type":"message.received","data":{"subject":"h\u00e9llo"}}'.encode()


def test_signature_verifies_with_standardwebhooks() -> None:
    secret = webhook_signing.generate_secret()
    assert secret.startswith("whsec_")
    headers = webhook_signing.headers([secret], "evt_1", int(time.time()), BODY)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers)["id"] == "evt_1"


def test_tampered_body_or_other_secret_fails_verification() -> None:
    secret = webhook_signing.generate_secret()
    headers = webhook_signing.headers([secret], "evt_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"evt_1", b"evt_2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_signing.generate_secret()).verify(BODY, headers)


def test_rotation_overlap_signs_with_both_secrets() -> None:
    new, old = webhook_signing.generate_secret(), webhook_signing.generate_secret()
    headers = webhook_signing.headers([new, old], "evt_9", int(time.time()), BODY)
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    # Each receiver configuration (still on the old secret, or already on the new) verifies.
    for secret in (new, old):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_signing.generate_secret()).verify(BODY, headers)


def test_secret_must_be_base64_of_enough_bytes() -> None:
    with pytest.raises(ValueError):
        webhook_signing.secret_key("whsec_not base64!")
    with pytest.raises(ValueError):
        webhook_signing.secret_key("whsec_c2hvcnQ=")  # "short"
    with pytest.raises(ValueError):
        webhook_signing.headers([], "evt_1", 0, BODY)
