"""The SMTP listener: aiosmtpd's protocol on the running event loop, plus the reconciler.

We create the server with `loop.create_server` ourselves (what aiosmtpd's UnthreadedController
does) because the controller's `begin()` wants to drive the loop, and we already run one.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP
from sqlalchemy.ext.asyncio import AsyncEngine

from ingress.handler import IngressHandler
from ingress.handoff import Handoff
from settings import Settings
from store.blobs import BlobStore
from store.engine import create_engine, create_sessionmaker

log = logging.getLogger("postflow.ingress")
INGRESS_POOL = {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": False}


@dataclass
class RunningIngress:
    server: asyncio.AbstractServer
    handoff: Handoff
    reconciler: asyncio.Task[None]
    port: int
    engine: AsyncEngine
    handler: IngressHandler

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        self.reconciler.cancel()
        await self.handoff.drain()
        await self.handler.early_wake.drain()
        await self.engine.dispose()


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """STARTTLS is offered when a certificate and key are configured."""
    if not settings.smtp_tls_cert_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(settings.smtp_tls_cert_file, settings.smtp_tls_key_file)
    return ctx


async def start_ingress(settings: Settings, *, reconcile_interval: float = 5.0) -> RunningIngress:
    # A pool as large as the connections in flight: the default (5 + 5 overflow) opened and
    # closed a PostgreSQL connection for almost every message under 8 concurrent clients. No
    # pre-ping (a round trip per checkout): after a database restart the first transaction on a
    # stale connection fails with 451 (the sender retries) and the pool is recycled at once.
    pool = {} if settings.database_url.startswith("sqlite") else INGRESS_POOL
    engine = create_engine(settings, **pool)
    sessionmaker = create_sessionmaker(engine)
    handoff = Handoff(settings, sessionmaker)
    handler = IngressHandler(settings, sessionmaker, BlobStore(settings.blobs_path), handoff)
    # RCPT lookups only read: autocommit, so no BEGIN/ROLLBACK round trips around them.
    handler.readonly = create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    loop = asyncio.get_running_loop()
    tls = tls_context(settings)

    def factory() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=settings.smtp_hostname,
            ident="Postflow ESMTP",
            timeout=settings.smtp_timeout_seconds,
            tls_context=tls,
            require_starttls=settings.smtp_require_starttls and tls is not None,
            loop=loop,
        )

    server = await loop.create_server(factory, host=settings.smtp_host, port=settings.smtp_port)
    port = server.sockets[0].getsockname()[1]
    reconciler = asyncio.create_task(handoff.reconcile_forever(reconcile_interval))
    log.info("SMTP ingress listening on %s:%d", settings.smtp_host, port)
    return RunningIngress(
        server=server, handoff=handoff, reconciler=reconciler, port=port, engine=engine,
        handler=handler,
    )
