"""SPF check_host() (RFC 7208) through mailauth's resolver against a loopback DNS server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mailauth.resolver import Resolver
from mailauth.spf_evaluation import check_spf
from tests.helpers.dns_server import DnsServer

CLIENT = "192.0.2.10"


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


async def spf(
    server: DnsServer,
    ip: str = CLIENT,
    mail_from: str = "alice@example.com",
    helo: str | None = "mx.example.net",
) -> str:
    resolver = Resolver(["127.0.0.1"], port=server.port, timeout=0.3, lifetime=0.6)
    return (await check_spf(ip, mail_from, helo, resolver)).result


@pytest.mark.parametrize(
    ("all_term", "expected"),
    [("-all", "fail"), ("~all", "softfail"), ("?all", "neutral"), ("+all", "pass")],
)
async def test_qualifier_of_matching_all_decides_result(
    dns: DnsServer, all_term: str, expected: str
) -> None:
    dns.add("example.com", TXT=[f"v=spf1 ip4:198.51.100.0/24 {all_term}"])
    assert await spf(dns) == expected


async def test_ip4_match_passes(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 ip4:192.0.2.0/28 -all"])
    assert await spf(dns) == "pass"
    assert await spf(dns, ip="192.0.2.16") == "fail"


async def test_ip6_match_passes_and_ip4_terms_ignore_ipv6_clients(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 ip4:0.0.0.0/0 ip6:2001:db8::/32 -all"])
    assert await spf(dns, ip="2001:db8::25") == "pass"
    assert await spf(dns, ip="2001:db9::25") == "fail"


async def test_ipv4_mapped_client_is_checked_as_ipv4(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 ip4:192.0.2.10 -all"])
    assert await spf(dns, ip="::ffff:192.0.2.10") == "pass"


async def test_no_match_without_all_is_neutral(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 ip4:198.51.100.1"])
    assert await spf(dns) == "neutral"


async def test_missing_record_is_none(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["google-site-verification=abc"], A=["192.0.2.1"])
    assert await spf(dns) == "none"
    assert await spf(dns, mail_from="bob@unknown.example") == "none"


async def test_two_spf_records_are_permerror(dns: DnsServer) -> None:
    dns.add("example.com", TXT=[f"v=spf1 ip4:{CLIENT} -all", "v=spf1 -all"])
    assert await spf(dns) == "permerror"


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 ip4:192.0.2.300 -all",
        "v=spf1 ip4:192.0.2.0/33 -all",
        "v=spf1 foo:example.com -all",
        "v=spf1 include:%{z}.example.com -all",
        "v=spf1 a:example.123 -all",
        "v=spf1 redirect=a.example.org redirect=b.example.org",
    ],
)
async def test_syntax_error_anywhere_is_permerror(dns: DnsServer, record: str) -> None:
    # The matching ip4 comes first: a syntax error must win before any evaluation.
    dns.add("example.com", TXT=[record.replace("v=spf1", f"v=spf1 ip4:{CLIENT}")])
    assert await spf(dns) == "permerror"


async def test_unknown_modifier_is_ignored(dns: DnsServer) -> None:
    dns.add("example.com", TXT=[f"v=spf1 moo=cow.%{{d}} ip4:{CLIENT} -all"])
    assert await spf(dns) == "pass"


async def test_include_loop_is_permerror_by_lookup_limit(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 include:loop.example.com -all"])
    dns.add("loop.example.com", TXT=["v=spf1 include:example.com -all"])
    assert await spf(dns) == "permerror"
    assert dns.query_count("example.com", "TXT") + dns.query_count("loop.example.com") <= 12


async def test_eleven_dns_mechanisms_are_permerror(dns: DnsServer) -> None:
    names = [f"h{i}.example.com" for i in range(11)]
    for name in names:
        dns.add(name, A=["198.51.100.1"])
    dns.add("example.com", TXT=["v=spf1 " + " ".join(f"a:{n}" for n in names) + " +all"])
    assert await spf(dns) == "permerror"


async def test_ten_dns_mechanisms_are_allowed(dns: DnsServer) -> None:
    names = [f"h{i}.example.com" for i in range(10)]
    for name in names:
        dns.add(name, A=["198.51.100.1"])
    dns.add("example.com", TXT=["v=spf1 " + " ".join(f"a:{n}" for n in names) + " +all"])
    assert await spf(dns) == "pass"


async def test_third_void_lookup_is_permerror(dns: DnsServer) -> None:
    terms = " ".join(f"a:void{i}.example.com" for i in range(3))
    dns.add("example.com", TXT=[f"v=spf1 {terms} +all"])
    assert await spf(dns) == "permerror"


async def test_include_pass_matches_and_include_fail_does_not(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 include:_spf.provider.example ~all"])
    dns.add("_spf.provider.example", TXT=["v=spf1 ip4:192.0.2.0/24 -all"])
    assert await spf(dns) == "pass"
    # The included record's -all only means "no match" here; the outer ~all decides.
    assert await spf(dns, ip="198.51.100.7") == "softfail"


async def test_include_of_domain_without_record_is_permerror(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 include:norecord.example.org -all"])
    assert await spf(dns) == "permerror"


async def test_a_mechanism_matches_domain_addresses_with_cidr(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 a/24 -all"], A=["192.0.2.200"])
    dns.add("other.example.com", TXT=["v=spf1 a -all"], A=["192.0.2.200"])
    assert await spf(dns) == "pass"
    assert await spf(dns, mail_from="bob@other.example.com") == "fail"


async def test_a_mechanism_with_domain_and_ipv6_cidr(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 a:hosts.example.com//64 -all"])
    dns.add("hosts.example.com", AAAA=["2001:db8:1:1::1"])
    assert await spf(dns, ip="2001:db8:1:1::abcd") == "pass"
    assert await spf(dns, ip="2001:db8:1:2::1") == "fail"


async def test_mx_mechanism_matches_exchange_addresses(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 mx -all"], MX=["10 mx1.example.com", "20 mx2.example.com"])
    dns.add("mx1.example.com", A=["198.51.100.1"])
    dns.add("mx2.example.com", A=[CLIENT])
    assert await spf(dns) == "pass"
    assert await spf(dns, ip="198.51.100.2") == "fail"


async def test_mx_with_more_than_ten_exchanges_is_permerror(dns: DnsServer) -> None:
    exchanges = [f"10 mx{i}.example.com" for i in range(11)]
    dns.add("example.com", TXT=["v=spf1 mx -all"], MX=exchanges)
    assert await spf(dns) == "permerror"


async def test_ptr_mechanism_matches_forward_confirmed_name(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 ptr -all"])
    dns.add("10.2.0.192.in-addr.arpa", PTR=["mail.example.com."])
    dns.add("mail.example.com", A=[CLIENT])
    dns.add("20.2.0.192.in-addr.arpa", PTR=["forged.example.com."])
    dns.add("forged.example.com", A=["198.51.100.9"])  # does not point back: not validated
    assert await spf(dns) == "pass"
    assert await spf(dns, ip="192.0.2.20") == "fail"


async def test_exists_mechanism_expands_macros(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 exists:%{ir}.%{l}._spf.%{d} -all"])
    dns.add("10.2.0.192.alice._spf.example.com", A=["127.0.0.2"])
    assert await spf(dns) == "pass"
    assert await spf(dns, mail_from="mallory@example.com") == "fail"


async def test_redirect_uses_target_record(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 redirect=_spf.example.net"])
    dns.add("_spf.example.net", TXT=[f"v=spf1 ip4:{CLIENT} -all"])
    assert await spf(dns) == "pass"
    assert await spf(dns, ip="198.51.100.1") == "fail"


async def test_redirect_to_domain_without_record_is_permerror(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 redirect=nothing.example.net"])
    assert await spf(dns) == "permerror"


async def test_empty_mail_from_checks_helo_domain(dns: DnsServer) -> None:
    dns.add("mx.example.net", TXT=[f"v=spf1 ip4:{CLIENT} -all"])
    assert await spf(dns, mail_from="<>") == "pass"
    assert await spf(dns, mail_from="", helo=None) == "none"


async def test_malformed_domain_is_none_without_lookup(dns: DnsServer) -> None:
    assert await spf(dns, mail_from="bob@localhost") == "none"
    assert await spf(dns, mail_from="bob@a..example.com") == "none"
    assert dns.queries == []


async def test_unparseable_client_ip_is_permerror(dns: DnsServer) -> None:
    assert await spf(dns, ip="not-an-ip") == "permerror"


async def test_servfail_on_record_is_temperror() -> None:
    with DnsServer(servfail={"example.com"}) as server:
        assert await spf(server) == "temperror"


async def test_slow_record_lookup_is_temperror_within_lifetime() -> None:
    records = {"example.com": {"TXT": [f"v=spf1 ip4:{CLIENT} -all"]}}
    with DnsServer(records, delays={"example.com": 3}) as server:
        started = time.monotonic()
        assert await spf(server) == "temperror"
        assert time.monotonic() - started < 1.5


async def test_slow_include_is_temperror(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 include:slow.example.org -all"])
    dns.add("slow.example.org", TXT=[f"v=spf1 ip4:{CLIENT} -all"])
    dns.delays["slow.example.org"] = 3
    assert await spf(dns) == "temperror"
