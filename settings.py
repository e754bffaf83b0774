"""Postflow's one settings object: the only module that reads the environment.

`load_settings()` builds a frozen `Settings` from `POSTFLOW_*` variables and an optional
`.env`; everything else receives the object as an argument and never reads `os.environ`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent
# The shared offline embedding model sits beside the repository on our machines and in CI.
_SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"


class Settings(BaseSettings):
    """Every setting, with its default. The README's settings table mirrors this class."""

    model_config = SettingsConfigDict(
        env_prefix="POSTFLOW_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(Path("./data"), description="Where embedded state lives.")
    database_url: str = Field("", description="SQLAlchemy URL; default SQLite in data_dir.")
    blob_dir: Path | None = Field(None, description="Raw MIME and attachments; data_dir/blobs.")
    master_key: SecretStr | None = Field(
        None, description="Key for secrets at rest; generated into data_dir/master-key."
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str = Field("", description="Base URL clients use; default http://host:port.")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_hostname: str = Field("postflow.local", description="Name in the SMTP banner.")

    temporal_address: str = Field("", description="host:port; default 127.0.0.1:temporal_port.")
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_namespace: str = "default"
    task_queue: str = "postflow"

    default_domain: str = Field("postflow.local", description="Domain of new inboxes.")
    agents_domain: str = Field(
        "", description="Domain of agent aliases (Pidgebox API); default agents.<default_domain>."
    )
    max_message_bytes: int = Field(25 * 1024 * 1024, description="SMTP size limit (552).")
    max_recipients: int = Field(100, description="RCPT TO per message (452 beyond).")
    smtp_timeout_seconds: int = Field(300, description="Idle SMTP connection timeout.")
    smtp_tls_cert_file: Path | None = Field(None, description="PEM certificate: enables STARTTLS.")
    smtp_tls_key_file: Path | None = Field(None, description="PEM private key for STARTTLS.")
    smtp_require_starttls: bool = Field(False, description="Refuse mail before STARTTLS.")

    dns_servers: str = Field(
        "", description="Comma-separated host[:port] resolvers for SPF/DKIM/DMARC; empty = system."
    )
    dns_timeout_seconds: float = Field(1.0, description="Per-query DNS timeout.")
    dns_lifetime_seconds: float = Field(2.0, description="Total DNS time per lookup.")

    webhook_allow_http: bool = Field(False, description="Allow http:// webhook URLs (https only).")
    webhook_allow_networks: str = Field(
        "", description="Comma-separated CIDRs webhooks may target despite being private/loopback."
    )
    smtp_allow_networks: str = Field(
        "", description="Comma-separated CIDRs BYO SMTP configs may target despite being private."
    )
    webhook_retry_schedule: str = Field(
        "5s,5m,30m,2h,5h,10h,14h,20h,24h", description="Delays between attempts (with jitter)."
    )
    webhook_timeout_seconds: float = Field(15.0, description="Per-attempt HTTP timeout.")
    webhook_disable_after_days: float = Field(
        5.0, description="Disable an endpoint that has failed continuously this long."
    )
    webhook_secret_overlap_hours: float = Field(
        24.0, description="After rotate-secret, the old secret keeps signing this long."
    )

    chroma_url: str = Field("", description="Chroma server URL; empty = embedded Chroma.")
    embedding_model_dir: Path | None = Field(
        None, description="Dir holding all-MiniLM-L6-v2/onnx; default ../shared/models if present."
    )
    embedding_remote_model: str = Field(
        "", description="litellm embedding model (e.g. openai/text-embedding-3-small); empty = local."
    )
    search_max_attachment_bytes: int = Field(
        20 * 1024 * 1024, description="Attachments larger than this are not text-indexed."
    )
    outbound_transport: Literal["capture", "relay", "direct"] = "capture"
    relay_url: SecretStr | None = None
    outbound_max_schedule_days: int = Field(3650, description="Furthest send_at accepted (days).")
    outbound_retry_hours: float = Field(72.0, description="How long temporary failures retry.")
    outbound_retry_schedule: str = Field(
        "1m,5m,15m,30m,1h,2h,4h", description="Delays between delivery attempts (last repeats)."
    )
    outbound_max_recipients: int = Field(50, description="to+cc+bcc per outbound message.")
    outbound_max_attachment_bytes: int = Field(
        10 * 1024 * 1024, description="Per uploaded file; a message is capped by max_message_bytes."
    )
    outbound_smtp_timeout_seconds: float = Field(30.0, description="Per SMTP command, relay/direct.")
    outbound_approval_expiry_hours: float = Field(
        24.0, description="Approval wait before escalation; the same again before expiry."
    )
    direct_smtp_port: int = Field(25, description="Port of recipient MXes (direct transport).")
    send_limit_hourly: int = Field(1000, description="Recipients per inbox per hour (0: no limit).")
    send_limit_daily: int = Field(10000, description="Recipients per inbox per day (0: no limit).")
    org_send_limit_hourly: int = Field(5000, description="Recipients per org per hour (0: none).")
    org_send_limit_daily: int = Field(50000, description="Recipients per org per day (0: none).")

    llm_model: str = Field("", description="litellm model name; empty = AI features off (503).")
    llm_api_base: str = Field("", description="OpenAI-compatible API base for the LLM.")
    llm_api_key: SecretStr | None = Field(None, description="API key for the LLM.")
    llm_timeout_seconds: float = Field(60.0, description="Per LLM call; Temporal owns retries.")

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        # Defaults that depend on other settings; object.__setattr__ because the model is frozen.
        set_ = object.__setattr__
        if not self.database_url:
            set_(self, "database_url", f"sqlite+aiosqlite:///{self.data_dir.resolve()}/postflow.db")
        set_(self, "database_url", normalize_database_url(self.database_url))
        if not self.agents_domain:
            set_(self, "agents_domain", f"agents.{self.default_domain}")
        if self.blob_dir is None:
            set_(self, "blob_dir", self.data_dir / "blobs")
        if not self.temporal_address:
            set_(self, "temporal_address", f"127.0.0.1:{self.temporal_port}")
        if not self.public_url:
            host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host  # noqa: S104
            set_(self, "public_url", f"http://{host}:{self.api_port}")
        if self.embedding_model_dir is None and (_SHARED_MODELS / "all-MiniLM-L6-v2").is_dir():
            set_(self, "embedding_model_dir", _SHARED_MODELS)
        return self

    @property
    def blobs_path(self) -> Path:
        assert self.blob_dir is not None
        return self.blob_dir

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def dns_server_list(self) -> tuple[list[str] | None, int]:
        """(nameserver IPs, port) from `dns_servers`; (None, 53) means the system resolver."""
        items = [i.strip() for i in self.dns_servers.split(",") if i.strip()]
        if not items:
            return None, 53
        port = 53
        hosts = []
        for item in items:
            host, sep, p = item.rpartition(":")
            if sep and p.isdigit() and "]" not in p:
                hosts.append(host.strip("[]"))
                port = int(p)
            else:
                hosts.append(item.strip("[]"))
        return hosts, port

    def master_key_bytes(self) -> bytes:
        if self.master_key is None:
            raise RuntimeError("POSTFLOW_MASTER_KEY is not set and no data_dir/master-key exists")
        return self.master_key.get_secret_value().encode()


def normalize_database_url(url: str) -> str:
    """Pick the async drivers we ship for the plain URLs people paste in."""
    for plain, driver in (
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from `environ` (default: the process environment) plus overrides.

    When no master key is configured, the one in `data_dir/master-key` is used.
    """
    env = dict(os.environ if environ is None else environ)
    scoped = {k[len("POSTFLOW_") :].lower(): v for k, v in env.items() if k.startswith("POSTFLOW_")}
    scoped.update({k: v for k, v in overrides.items()})
    settings = Settings(_env_file=".env" if environ is None else None, **scoped)  # type: ignore[call-arg]
    if settings.master_key is None:
        key_file = settings.data_dir / "master-key"
        if key_file.exists():
            settings = settings.model_copy(
                update={"master_key": SecretStr(key_file.read_text().strip())}
            )
    return settings


def ensure_master_key(settings: Settings) -> Settings:
    """Generate data_dir/master-key (mode 0600) on first start when none is configured."""
    if settings.master_key is not None:
        return settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_dir / "master-key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return settings.model_copy(update={"master_key": SecretStr(key_file.read_text().strip())})
