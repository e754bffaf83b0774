"""The RFC5322.From domain DMARC uses (RFC 7489 §6.6.1), from raw header bytes."""

from __future__ import annotations

import pytest

from mailauth.header_from import AuthorDomain, author_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"From: Alice <alice@Example.COM.>\r\n\r\nbody", AuthorDomain("ok", "example.com")),
        (b"from:bob@x.org", AuthorDomain("ok", "x.org")),
        (b"From: =?utf-8?q?J=C3=B6rg?=\r\n <j@x.org>\r\n\r\n", AuthorDomain("ok", "x.org")),
        (b'From: "a, b" <a@b.com>, c@B.com\r\n\r\n', AuthorDomain("ok", "b.com")),
        ("From: ü@bücher.example\r\n\r\n".encode(), AuthorDomain("ok", "xn--bcher-kva.example")),
    ],
)
def test_author_domain_is_found_for_single_author_domain(
    raw: bytes, expected: AuthorDomain
) -> None:
    assert author_domain(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@b.com\r\nFrom: c@b.com\r\n\r\n",
        b"From: a@b.com, c@d.com\r\n\r\n",
        b"From: undisclosed-recipients:;\r\n\r\n",
        b"From: alice\r\n\r\n",
        b"From: a@[192.0.2.1]\r\n\r\n",
        b"From: \xe9@\xff\xfe.example\r\n\r\n",
    ],
)
def test_author_domain_is_invalid_for_ambiguous_or_domainless_from(raw: bytes) -> None:
    assert author_domain(raw) == AuthorDomain("invalid")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 10,
        b"Subject: hi\r\n\r\nFrom: a@b.com\r\n",
        b"Subject: x\r\n From: a@b.com",
    ],
)
def test_author_domain_is_missing_without_from_field(raw: bytes) -> None:
    assert author_domain(raw) == AuthorDomain("missing")


def test_author_domain_ignores_from_lines_in_large_body() -> None:
    raw = b"From: a@b.com\r\n\r\n" + b"From: c@d.com\r\n" * 100_000
    assert author_domain(raw) == AuthorDomain("ok", "b.com")
