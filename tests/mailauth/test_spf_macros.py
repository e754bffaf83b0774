"""SPF macro expansion and syntax (RFC 7208 §7), checked against the RFC's own examples."""

from __future__ import annotations

import ipaddress

import pytest

from mailauth.spf_macros import (
    MacroContext,
    MacroSyntaxError,
    check_domain_spec,
    expand,
    expand_domain_spec,
)


def context(ip: str = "192.0.2.3") -> MacroContext:
    return MacroContext(
        sender="strong-bad@email.example.com",
        local_part="strong-bad",
        sender_domain="email.example.com",
        domain="email.example.com",
        ip=ipaddress.ip_address(ip),
        helo="mx.example.org",
    )


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        ("%{h}", "mx.example.org"),
        ("%%%_%-", "% %20"),
        ("%{S}", "strong-bad%40email.example.com"),
    ],
)
def test_expand_matches_rfc_examples(macro: str, expected: str) -> None:
    assert expand(macro, context()) == expected


def test_expand_writes_ipv6_as_reversed_nibbles() -> None:
    expected = "1.0.b.c." + "0." * 20 + "8.b.d.0.1.0.0.2.ip6._spf.example.com"
    assert expand("%{ir}.%{v}._spf.%{d2}", context("2001:db8::cb01")) == expected


def test_expand_domain_spec_truncates_long_result_from_the_left() -> None:
    long_local = ".".join(["label"] * 60)  # about 360 characters
    ctx = MacroContext(
        f"{long_local}@example.com",
        long_local,
        "example.com",
        "example.com",
        ipaddress.ip_address("192.0.2.3"),
        "h",
    )
    result = expand_domain_spec("%{l}._spf.example.com", ctx)
    assert len(result) <= 253
    assert result.endswith("label._spf.example.com")
    assert not result.startswith(".")


@pytest.mark.parametrize(
    "spec",
    ["example.com", "%{d}", "_spf.%{d2}", "example.com.", "sub-1.example.x-y", "%{ir}.x.%{d}"],
)
def test_check_domain_spec_accepts_valid_specs(spec: str) -> None:
    check_domain_spec(spec)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "com",
        "example.123",
        "%{c}.example.com",
        "%{d0}.example.com",
        "%x.example.com",
        "%{d",
        "exa mple.com",
        "example.-com",
    ],
)
def test_check_domain_spec_rejects_invalid_specs(spec: str) -> None:
    with pytest.raises(MacroSyntaxError):
        check_domain_spec(spec)
