"""A real HTTP receiver on loopback standing in for webhook endpoints, and the rows that point
Postflow at it.

`Receiver` is an asyncio HTTP/1.1 server (plain or TLS) that records every request and answers
each with a scripted `Reply` (status, headers, body, delay before answering): replies queued in
`replies` are used first, then `respond(request)` if given, then `default`. It can be started
on a port chosen earlier, so a test can point an endpoint at it while it is still down.
`create_org`, `create_endpoint` and `emit_event` write the rows that make Postflow deliver to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.helpers.processes import free_port


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() when the request was complete

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(
        self, *, port: int | None = None, ssl_context: ssl.SSLContext | None = None,
        respond: Callable[[Received], Reply] | None = None, host: str = "127.0.0.1",
    ) -> None:  # fmt: skip
        self.host = host
        self.port = port or free_port()
        self.ssl_context = ssl_context
        self.respond = respond
        self.replies: list[Reply] = []
        self.default = Reply()
        self.requests: list[Received] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrived = asyncio.Condition()
        self._stopping = asyncio.Event()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}/hooks"

    async def start(self) -> Receiver:
        self._stopping.clear()
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self.ssl_context, reuse_address=True
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._stopping.set()  # requests still waiting out a delay end now, unanswered
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:  # noqa: ASYNC109
        """Block until at least `count` requests arrived; return them all."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.requests) >= count), timeout
            )
        return list(self.requests)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request = await self._read(reader)
            if request is None:
                return
            async with self._arrived:
                self.requests.append(request)
                self._arrived.notify_all()
            reply = self._reply_for(request)
            if reply.delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), reply.delay)
                if self._stopping.is_set():
                    return
            head = [f"HTTP/1.1 {reply.status} Scripted", f"Content-Length: {len(reply.body)}",
                    "Connection: close"] + [f"{k}: {v}" for k, v in reply.headers.items()]  # fmt: skip
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client gave up first (a timeout test) or the handshake failed
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _reply_for(self, request: Received) -> Reply:
        if self.replies:
            return self.replies.pop(0)
        return self.respond(request) if self.respond else self.default

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Received | None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Received(method=method, path=path, headers=headers, body=body, at=time.monotonic())


async def create_org(sessionmaker: Any, name: str = "Hooks") -> str:
    from store import orgs

    async with sessionmaker.begin() as session:
        org, _, _, _ = await orgs.create_organization(session, name=name, admin_email=None)
        return str(org.id)


async def create_endpoint(
    sessionmaker: Any, settings: Any, org_id: str, url: str, *, secret: str | None = None,
    previous_secret: str | None = None, previous_expires_at: datetime | None = None,
    event_types: list[str] | None = None, inbox_ids: list[str] | None = None,
) -> tuple[str, str]:  # fmt: skip
    """A webhook endpoint row with a sealed secret, as the API would store it: (id, secret)."""
    from crypto.sealing import seal
    from crypto.webhook_signing import generate_secret
    from store.base import new_id
    from store.models import WebhookEndpoint

    key = settings.master_key_bytes()
    secret = secret or generate_secret()
    endpoint = WebhookEndpoint(
        id=new_id("wh"), org_id=org_id, url=url, event_types=event_types or [], inbox_ids=inbox_ids,
        secret_sealed=seal(key, secret, "webhook-secret"),
        previous_secret_sealed=seal(key, previous_secret, "webhook-secret") if previous_secret else None,
        previous_secret_expires_at=previous_expires_at,
    )  # fmt: skip
    async with sessionmaker.begin() as session:
        session.add(endpoint)
    return endpoint.id, secret


async def emit_event(
    sessionmaker: Any, org_id: str, *, type_: str = "webhook.test", inbox_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> str:  # fmt: skip
    """Write one event to the event log (as a pipeline step would); returns its id."""
    import uuid

    from store import events

    async with sessionmaker.begin() as session:
        event = await events.emit(
            session, org_id=org_id, inbox_id=inbox_id, type=type_, resource_id=uuid.uuid4().hex,
            payload=payload if payload is not None else {"endpoint_id": "", "message": "hello"},
        )  # fmt: skip
        return str(event.id)
