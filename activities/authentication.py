"""SPF/DKIM/DMARC for stored mail, through the process's one DNS resolver (`mailauth`)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from settings import Settings
from store.blobs import BlobStore


class Authenticator:
    def __init__(
        self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], blobs: BlobStore
    ) -> None:
        from mailauth.resolver import Resolver

        self.sessionmaker = sessionmaker
        self.blobs = blobs
        self.budget = settings.dns_lifetime_seconds * 1.5
        nameservers, port = settings.dns_server_list()
        self.resolver = Resolver(
            nameservers=nameservers, port=port, timeout=settings.dns_timeout_seconds,
            lifetime=settings.dns_lifetime_seconds,
        )  # fmt: skip

    async def verify_stored(self, message_id: str) -> dict[str, Any]:
        from mailauth.verdicts import authenticate
        from store import messages

        async with self.sessionmaker() as session:
            msg = await messages.get_for_pipeline(session, message_id)
            sha, ip, helo, mail_from = msg.raw_sha256, msg.client_ip, msg.helo, msg.envelope_from
        assert sha is not None
        raw = await asyncio.to_thread(self.blobs.get, sha)
        verdicts = await authenticate(
            raw, client_ip=ip, helo=helo, mail_from=mail_from, resolver=self.resolver,
            budget=self.budget,
        )  # fmt: skip
        return verdicts.as_dict()
