"""App factory: `create_app(settings)` wires routes, auth, errors, OpenAPI and the lifespan.

The lifespan opens the database engine and one (lazily connected) Temporal client and keeps
them on `app.state`; handlers get them through dependencies, never through globals.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.pydantic import PydanticPlugin

from api.auth import PUBLIC_PATHS, ApiKeyMiddleware
from api.deps import provide_db, provide_principal, provide_temporal
from api.errors import handle_exception
from api.routes import (
    access_lists,
    attachments,
    audit,
    chat,
    delivery,
    discovery,
    events,
    extraction_schema,
    inboxes,
    keys,
    knowledge,
    mcp,
    messages,
    orgs,
    pidgebox,
    search,
    send,
    sequences,
    smtp_configs,
    system,
    threads,
    uploads,
    waits,
    webhook_deliveries,
    webhooks,
)
from ingress.handoff import Handoff
from outbound.rate_limits import session_info
from settings import Settings
from store.blobs import BlobStore
from store.engine import create_engine, create_sessionmaker
from temporal_client import LazyClient

ROUTES = [
    system.health,
    system.root,
    system.capabilities,
    orgs.OrgController,
    keys.ApiKeyController,
    inboxes.InboxController,
    messages.MessageController,
    threads.ThreadController,
    attachments.AttachmentController,
    waits.WaitController,
    pidgebox.PidgeboxController,
    webhook_deliveries.WebhookDeliveryController,
    webhooks.WebhookController,
    events.EventController,
    search.SearchController,
    knowledge.KnowledgeController,
    knowledge.search_knowledge,
    extraction_schema.ExtractionSchemaController,
    send.SendController,
    uploads.UploadController,
    smtp_configs.SmtpConfigController,
    sequences.SequenceController,
    delivery.DeliveryController,
    delivery.DkimController,
    access_lists.AccessListController,
    audit.AuditController,
    mcp.mcp_post,
    mcp.mcp_get,
    mcp.mcp_delete,
    chat.ChatController,
    chat.put_agent_settings,
    discovery.llms_txt,
    discovery.skill_md,
]

# Request bodies beyond this are refused with 413 before any handler runs.
MAX_REQUEST_BYTES = 10 * 1024 * 1024


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.sessionmaker.configure(info=session_info(settings))  # rate limits, DKIM
        app.state.temporal = LazyClient(settings)
        app.state.blobs = BlobStore(settings.blobs_path)
        # Internal deliveries (agent-to-agent mail) hand off like the ingress does; if Temporal
        # is down the rows stay pending and the ingress's reconciler starts them later.
        app.state.handoff = Handoff(settings, app.state.sessionmaker)
        try:
            yield
        finally:
            await app.state.handoff.drain()
            await engine.dispose()

    openapi = OpenAPIConfig(
        title="Postflow API",
        version="0.1.0",
        description="Email for AI agents: mailboxes, durable sends, waits and search.",
        path="/docs",
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger"), JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer"),
                "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
            }
        ),
        security=[{"bearer": []}, {"apiKey": []}],
    )
    return Litestar(
        route_handlers=ROUTES,
        lifespan=[lifespan],
        middleware=[DefineMiddleware(ApiKeyMiddleware, exclude=PUBLIC_PATHS)],
        dependencies={
            "db": Provide(provide_db),
            "principal": Provide(provide_principal, sync_to_thread=False),
            "temporal": Provide(provide_temporal, sync_to_thread=False),
        },
        exception_handlers={Exception: handle_exception},
        openapi_config=openapi,
        plugins=[PydanticPlugin(prefer_alias=True)],
        request_max_body_size=MAX_REQUEST_BYTES,
        state=None,
        debug=False,
        on_app_init=[lambda cfg: _store_settings(cfg, settings)],
    )


def _store_settings(config: AppConfig, settings: Settings) -> AppConfig:
    from litestar.datastructures import State

    config.state = State({"settings": settings})
    return config
