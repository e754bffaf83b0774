"""mailauth.resolver against a real DNS server on loopback: answers, errors, timeouts, cache."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mailauth.resolver import MxRecord, Resolver, TempError
from tests.helpers.dns_server import DnsServer


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


def resolver_for(server: DnsServer, **kwargs: object) -> Resolver:
    options: dict[str, object] = {"timeout": 0.3, "lifetime": 0.6} | kwargs
    return Resolver(["127.0.0.1"], port=server.port, **options)  # type: ignore[arg-type]


async def test_txt_returns_each_record_with_its_strings_joined(dns: DnsServer) -> None:
    long_value = "v=DKIM1; k=rsa; p=" + "A" * 600  # served as three <=255-byte strings
    dns.add("example.com", TXT=["v=spf1 -all", long_value])
    assert sorted(await resolver_for(dns).txt("example.com")) == sorted(["v=spf1 -all", long_value])


async def test_txt_falls_back_to_tcp_when_udp_answer_truncated(dns: DnsServer) -> None:
    huge = ["x" * 1000, "y" * 1000]  # beyond the 1232-byte EDNS UDP size
    dns.add("big.example.com", TXT=huge)
    assert sorted(await resolver_for(dns).txt("big.example.com")) == huge


async def test_lookup_returns_empty_list_for_nxdomain(dns: DnsServer) -> None:
    assert await resolver_for(dns).txt("missing.example.com") == []
    assert dns.query_count("missing.example.com", "TXT") == 1


async def test_lookup_returns_empty_list_when_name_has_no_records_of_type(dns: DnsServer) -> None:
    dns.add("example.com", A=["192.0.2.1"])
    resolver = resolver_for(dns)
    assert await resolver.txt("example.com") == []
    assert await resolver.a("example.com") == ["192.0.2.1"]


async def test_addresses_and_ptr_are_returned_as_text(dns: DnsServer) -> None:
    dns.add("example.com", A=["192.0.2.1", "192.0.2.2"], AAAA=["2001:db8::1"])
    dns.add("1.2.0.192.in-addr.arpa", PTR=["Mail.Example.com."])
    resolver = resolver_for(dns)
    assert sorted(await resolver.a("example.com")) == ["192.0.2.1", "192.0.2.2"]
    assert await resolver.aaaa("example.com") == ["2001:db8::1"]
    assert await resolver.ptr("192.0.2.1") == ["mail.example.com"]
    assert await resolver.ptr("not an ip") == []


async def test_mx_is_sorted_by_preference(dns: DnsServer) -> None:
    dns.add("example.com", MX=["20 backup.example.com.", "10 primary.example.com."])
    assert await resolver_for(dns).mx("example.com") == [
        MxRecord(10, "primary.example.com"),
        MxRecord(20, "backup.example.com"),
    ]


async def test_lookup_raises_temperror_on_servfail() -> None:
    with DnsServer(servfail={"broken.example.com"}) as server, pytest.raises(TempError):
        await resolver_for(server).txt("broken.example.com")


async def test_lookup_raises_temperror_within_lifetime_when_server_is_slow() -> None:
    with DnsServer({"slow.example.com": {"TXT": ["late"]}}, delays={"slow.example.com": 3}) as s:
        started = time.monotonic()
        with pytest.raises(TempError):
            await resolver_for(s, timeout=0.2, lifetime=0.4).txt("slow.example.com")
        assert time.monotonic() - started < 1.5


async def test_invalid_name_returns_empty_list_without_query(dns: DnsServer) -> None:
    resolver = resolver_for(dns)
    assert await resolver.txt("a..example.com") == []
    assert await resolver.txt("x" * 64 + ".example.com") == []
    assert dns.queries == []


async def test_cache_answers_repeated_lookup_without_query(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["v=spf1 -all"])
    resolver = resolver_for(dns)
    for _ in range(3):
        assert await resolver.txt("Example.COM.") == ["v=spf1 -all"]
    assert dns.query_count("example.com", "TXT") == 1


async def test_cache_answers_repeated_nxdomain_without_query(dns: DnsServer) -> None:
    resolver = resolver_for(dns)
    await resolver.txt("_dmarc.nowhere.example")
    await resolver.txt("_dmarc.nowhere.example")
    assert dns.query_count("_dmarc.nowhere.example") == 1


async def test_cache_keeps_types_apart(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["t"], A=["192.0.2.1"])
    resolver = resolver_for(dns)
    assert await resolver.txt("example.com") == ["t"]
    assert await resolver.a("example.com") == ["192.0.2.1"]
    assert dns.query_count("example.com") == 2


async def test_cache_skips_answers_with_zero_ttl() -> None:
    with DnsServer({"example.com": {"TXT": ["t"]}}, ttl=0) as server:
        resolver = resolver_for(server)
        await resolver.txt("example.com")
        await resolver.txt("example.com")
        assert server.query_count("example.com", "TXT") == 2


async def test_cache_expires_entries_after_their_ttl(dns: DnsServer) -> None:
    dns.add("example.com", TXT=["t"])
    now = [1000.0]
    resolver = resolver_for(dns, clock=lambda: now[0])
    await resolver.txt("example.com")
    now[0] += 299  # the fixture's TTL is 300 s
    await resolver.txt("example.com")
    assert dns.query_count("example.com", "TXT") == 1
    now[0] += 2
    await resolver.txt("example.com")
    assert dns.query_count("example.com", "TXT") == 2


async def test_cache_evicts_least_recently_used_beyond_size(dns: DnsServer) -> None:
    for name in ("a.example.com", "b.example.com", "c.example.com"):
        dns.add(name, TXT=[name])
    resolver = resolver_for(dns, cache_size=2)
    await resolver.txt("a.example.com")
    await resolver.txt("b.example.com")
    await resolver.txt("a.example.com")  # a is now the most recently used
    await resolver.txt("c.example.com")  # evicts b
    await resolver.txt("a.example.com")
    await resolver.txt("b.example.com")
    assert dns.query_count("a.example.com") == 1
    assert dns.query_count("b.example.com") == 2


async def test_cache_does_not_keep_temperrors() -> None:
    with DnsServer(servfail={"flaky.example.com"}) as server:
        resolver = resolver_for(server)
        with pytest.raises(TempError):
            await resolver.txt("flaky.example.com")
        server.servfail.clear()
        server.add("flaky.example.com", TXT=["back"])
        assert await resolver.txt("flaky.example.com") == ["back"]
