"""The three production processes (api, worker, ingress) and the one-shot admin commands."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from settings import Settings, ensure_master_key

log = logging.getLogger("postflow")


def run_api(settings: Settings) -> None:
    import contextlib
    from collections.abc import Iterator

    import uvicorn

    from api.app import create_app
    from commands.signals import run_until_signal

    class Server(uvicorn.Server):
        # Our signal handling, not uvicorn's: it re-raises SIGTERM after a graceful shutdown,
        # which would make a clean stop look like a crash to supervisors.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    async def main(stop: asyncio.Event) -> None:
        config = uvicorn.Config(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
        )
        server = Server(config)
        serving = asyncio.create_task(server.serve())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await serving
        stopped.cancel()
        if not server.started:
            raise SystemExit(1)

    run_until_signal(main)


def run_worker(settings: Settings) -> None:
    from commands.signals import run_until_signal
    import temporal_client
    from activities.deps import ActivityDeps
    from worker import build_wait_worker, build_worker, housekeeping

    async def main(stop: asyncio.Event) -> None:
        client = await temporal_client.connect(settings)
        deps = ActivityDeps.build(settings)
        try:
            async with (
                build_worker(client, settings, deps),
                build_wait_worker(client, settings, deps),
                housekeeping(client, deps),
            ):
                log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
                await stop.wait()
        finally:
            await deps.close()

    run_until_signal(main)


def run_ingress(settings: Settings) -> None:
    from commands.signals import run_until_signal
    from ingress.server import start_ingress

    async def main(stop: asyncio.Event) -> None:
        ingress = await start_ingress(settings)
        try:
            await stop.wait()
        finally:
            await ingress.close()

    run_until_signal(main)


def migrate(settings: Settings) -> None:
    from store.migrate import upgrade

    asyncio.run(upgrade(settings))
    print("migrations applied", file=sys.stderr)


async def bootstrap_async(settings: Settings) -> str | None:
    """Migrate, ensure the default domain, create the platform org and key on first start."""
    from store import orgs
    from store.engine import create_engine, create_sessionmaker
    from store.migrate import upgrade

    await upgrade(settings)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine).begin() as session:
            return await orgs.bootstrap_platform(
                session, default_domain=settings.default_domain, agents_domain=settings.agents_domain
            )
    finally:
        await engine.dispose()


def write_admin_key(settings: Settings, secret: str) -> None:
    path = settings.data_dir / "admin-key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    os.chmod(path, 0o600)


def bootstrap(settings: Settings) -> None:
    settings = ensure_master_key(settings)
    secret = asyncio.run(bootstrap_async(settings))
    if secret:
        write_admin_key(settings, secret)
        print(f"Platform superadmin API key (shown once): {secret}")
    else:
        print("already bootstrapped; the first admin key was shown when it was created")


def healthcheck(settings: Settings, what: str) -> int:
    from temporal_client import LazyClient

    if what == "worker":
        return 0 if asyncio.run(LazyClient(settings).healthy()) else 1
    print(f"unknown healthcheck target {what!r}", file=sys.stderr)
    return 2
