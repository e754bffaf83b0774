"""Bring-your-own SMTP relays per organization: create, list, delete, test, set default.
The default one carries every remote recipient of the organization's outbound mail. Passwords
are sealed at rest (crypto/sealing.py) and masked in every response."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts import errors
from contracts.sending import SmtpConfigCreate, SmtpConfigView, SmtpTestResult
from crypto.sealing import seal
from outbound.routing import SEAL_PURPOSE, target_of
from outbound.smtp_egress import ResolveError, UnsafeTarget, check_host, pin
from store import smtp_configs
from store.models import SmtpConfig

MASK = "********"


def _unsafe(exc: UnsafeTarget) -> ApiError:
    """422 naming `host` when the SSRF rules refuse a config's host (outbound/smtp_egress.py)."""
    return ApiError(422, errors.VALIDATION_ERROR,
                    f"SMTP host refused: {exc.reason} (an operator can allow networks with "
                    "POSTFLOW_SMTP_ALLOW_NETWORKS)",
                    [{"field": "host", "message": exc.reason}])  # fmt: skip


def _view(cfg: SmtpConfig) -> SmtpConfigView:
    return SmtpConfigView(id=cfg.id, name=cfg.name, host=cfg.host, port=cfg.port,
                          security=cfg.security, username=cfg.username,
                          password=MASK if cfg.password_sealed else None,
                          is_default=cfg.is_default, created_at=cfg.created_at)  # fmt: skip


class SmtpConfigController(Controller):
    path = "/v1/smtp-configs"
    tags = ["sending"]
    guards = [requires("domains.manage")]

    @post("/", summary="Add an SMTP relay (password sealed, never returned)")
    async def create(self, data: SmtpConfigCreate, db: AsyncSession, principal: Principal,
                     state: State) -> SmtpConfigView:  # fmt: skip
        try:
            check_host(data.host, state.settings)
        except UnsafeTarget as exc:
            raise _unsafe(exc) from exc
        sealed = seal(state.settings.master_key_bytes(), data.password, SEAL_PURPOSE) if data.password else None
        cfg = await smtp_configs.create(
            db, principal.scope, name=data.name, host=data.host, port=data.port,
            security=data.security, username=data.username, password_sealed=sealed,
            is_default=data.is_default,
        )  # fmt: skip
        audit_action(db, principal, "smtp_config.create", resource_type="smtp_config", resource_id=cfg.id)
        return _view(cfg)

    @get("/", summary="List the organization's SMTP relays")
    async def list_configs(
        self, db: AsyncSession, principal: Principal,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[SmtpConfigView]:  # fmt: skip
        page = await smtp_configs.list_configs(db, principal.scope, limit=limit,
                                               after=decode_cursor(cursor))  # fmt: skip
        return ListResponse[SmtpConfigView](**to_list_response(page, _view))

    @get("/{config_id:str}", summary="Read an SMTP relay")
    async def read(self, config_id: str, db: AsyncSession, principal: Principal) -> SmtpConfigView:
        return _view(await smtp_configs.get(db, principal.scope, config_id))

    @delete("/{config_id:str}", summary="Delete an SMTP relay")
    async def remove(self, config_id: str, db: AsyncSession, principal: Principal) -> None:
        cfg = await smtp_configs.get(db, principal.scope, config_id)
        await smtp_configs.delete(db, cfg)
        audit_action(db, principal, "smtp_config.delete", resource_type="smtp_config", resource_id=config_id)

    @post("/{config_id:str}/default", status_code=200, summary="Make this the organization's relay")
    async def set_default(self, config_id: str, db: AsyncSession, principal: Principal) -> SmtpConfigView:
        cfg = await smtp_configs.set_default(db, await smtp_configs.get(db, principal.scope, config_id))
        audit_action(db, principal, "smtp_config.default", resource_type="smtp_config", resource_id=config_id)
        return _view(cfg)

    @post("/{config_id:str}/test", status_code=200,
          summary="Connect, (STARTTLS,) log in and say NOOP: is the relay usable?")  # fmt: skip
    async def test(self, config_id: str, db: AsyncSession, principal: Principal,
                   state: State) -> SmtpTestResult:  # fmt: skip
        import aiosmtplib

        from outbound.transport import connect

        cfg = await smtp_configs.get(db, principal.scope, config_id)
        target = target_of(cfg, state.settings.master_key_bytes())
        try:
            target = await pin(target, state.settings)  # the SSRF rules, as for every send
        except UnsafeTarget as exc:
            raise _unsafe(exc) from exc
        except ResolveError as exc:
            return SmtpTestResult(ok=False, code=None, message=str(exc)[:300])
        client: aiosmtplib.SMTP | None = None
        try:
            client = await connect(target, timeout=state.settings.outbound_smtp_timeout_seconds)
            if target.username:
                await client.login(target.username, target.password or "")
            reply = await client.noop()
            await client.quit()
            return SmtpTestResult(ok=True, code=reply.code, message=reply.message[:300])
        except aiosmtplib.SMTPResponseException as exc:
            return SmtpTestResult(ok=False, code=exc.code, message=exc.message[:300])
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return SmtpTestResult(ok=False, code=None, message=f"{type(exc).__name__}: {exc}"[:300])
        finally:
            if client is not None:
                client.close()
