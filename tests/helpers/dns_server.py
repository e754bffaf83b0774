"""A real authoritative DNS server on loopback (UDP and TCP) answering from a dict, for tests.

Records are `{name: {TYPE: [presentation values]}}`; unknown names get NXDOMAIN, names listed in
`servfail` get SERVFAIL, and `delays` holds per-name seconds to wait before answering (to test
timeouts). Each query runs on its own thread, so one slow name never blocks the others.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

Records = dict[str, dict[str, list[str]]]


class DnsServer:
    """Start with `start()` or `with DnsServer(records) as server:`; query 127.0.0.1:`port`."""

    def __init__(
        self,
        records: Mapping[str, Mapping[str, list[str]]] | None = None,
        *,
        delays: Mapping[str, float] | None = None,
        servfail: set[str] | None = None,
        ttl: int = 300,
    ) -> None:
        self.records: Records = {}
        for name, rrsets in (records or {}).items():
            self.add(name, **rrsets)
        self.delays = {_key(n): d for n, d in (delays or {}).items()}
        self.servfail = {_key(n) for n in servfail or ()}
        self.ttl = ttl
        self.host = "127.0.0.1"
        self.port = 0
        # (name, TYPE) of every query received, in order, over UDP and TCP alike.
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._servers: list[socketserver.BaseServer] = []

    def add(self, name: str, **rrsets: list[str]) -> None:
        """Add records, e.g. `add("example.com", TXT=["v=spf1 -all"], A=["192.0.2.1"])`."""
        entry = self.records.setdefault(_key(name), {})
        for rdtype, values in rrsets.items():
            entry.setdefault(rdtype.upper(), []).extend(values)

    def query_count(self, name: str, rdtype: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for n, t in self.queries if n == _key(name) and rdtype in (None, t.upper())
            )

    def start(self) -> DnsServer:
        # UDP and TCP must share a port number, so retry when the free UDP port is taken for TCP.
        for _ in range(20):
            udp = _UdpServer((self.host, 0), _UdpHandler, self)
            try:
                tcp = _TcpServer((self.host, udp.server_address[1]), _TcpHandler, self)
            except OSError:
                udp.server_close()
                continue
            self.port = udp.server_address[1]
            self._servers = [udp, tcp]
            for server in self._servers:
                # A short poll interval keeps stop() (a blocking shutdown) fast in async tests.
                threading.Thread(target=server.serve_forever, args=(0.005,), daemon=True).start()
            return self
        raise RuntimeError("no free port for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, wire: bytes, *, tcp: bool) -> bytes | None:
        """The response to one query in wire format; None for undecodable input (dropped)."""
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except (dns.exception.DNSException, IndexError):
            return None
        name = _key(question.name.to_text())
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append((name, rdtype))
        delay = self.delays.get(name, 0.0)
        if delay:
            time.sleep(delay)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name in self.records:
            values = self.records[name].get(rdtype, [])
            if values:
                texts = [_quote_txt(v) if rdtype == "TXT" else v for v in values]
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name,
                        self.ttl,
                        dns.rdataclass.IN,
                        rdtype,
                        texts,
                        origin=dns.name.root,
                        relativize=False,
                    )
                )
        elif not any(other.endswith("." + name) for other in self.records):
            # A name with records below it exists (empty non-terminal): NOERROR, no data.
            response.set_rcode(dns.rcode.NXDOMAIN)
        max_size = 65535 if tcp else max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            # Too big for UDP: send TC so the client retries over TCP, as real servers do.
            response.answer = []
            response.flags |= dns.flags.TC
            return response.to_wire()


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    """A running, initially empty DnsServer; tests add records with `dns_server.add(...)`."""
    with DnsServer() as server:
        yield server


def _key(name: str) -> str:
    return name.lower().rstrip(".")


def _quote_txt(value: str) -> str:
    # One TXT record may hold many <=255-byte strings; long values (DKIM keys) must be split.
    raw = value.encode()
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    quoted = []
    for chunk in chunks:
        text = chunk.decode("utf-8", "replace").replace("\\", "\\\\").replace('"', '\\"')
        quoted.append(f'"{text}"')
    return " ".join(quoted)


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    block_on_close = False  # a handler sleeping on a delay must not hold up stop()

    def __init__(self, address: tuple[str, int], handler: Any, zone: DnsServer) -> None:
        super().__init__(address, handler)
        self.zone = zone


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: Any, zone: DnsServer) -> None:
        super().__init__(address, handler)
        self.zone = zone


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.zone.answer(data, tcp=False)  # type: ignore[attr-defined]
        if reply is not None:
            # OSError: the server was stopped while this handler slept on a delay.
            with contextlib.suppress(OSError):
                sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        while True:
            length = self.rfile.read(2)
            if len(length) < 2:
                return
            data = self.rfile.read(int.from_bytes(length, "big"))
            reply = self.server.zone.answer(data, tcp=True)  # type: ignore[attr-defined]
            if reply is None:
                return
            try:
                sock.sendall(len(reply).to_bytes(2, "big") + reply)
            except OSError:
                return
