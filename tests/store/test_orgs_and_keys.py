"""Platform bootstrap and API keys: creation, authentication, rotation, revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from contracts.scopes import SCOPES
from crypto.api_keys import hash_api_key
from store import api_keys, domains, inboxes, orgs
from store.base import utcnow
from store.errors import NotFound
from store.models import ApiKey, Domain, Organization, User

DEFAULT_DOMAIN = "platform.example.test"


async def _count(session: Any, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)))


# --- bootstrap -------------------------------------------------------------------------------


async def test_bootstrap_platform_creates_domain_org_superadmin_and_key_when_empty(sm: Any) -> None:
    async with sm.begin() as session:
        secret = await orgs.bootstrap_platform(session, default_domain="Mail.Example.TEST")
    assert secret is not None
    async with sm() as session:
        assert await _count(session, Organization) == 1
        assert await _count(session, ApiKey) == 1
        (domain,) = (await session.scalars(select(Domain))).all()
        (user,) = (await session.scalars(select(User))).all()
        assert (domain.name, domain.is_default, domain.org_id) == ("mail.example.test", True, None)
        assert user.is_superadmin and user.role == "admin"
        found = await api_keys.authenticate(session, secret)
    assert found is not None
    key, key_user = found
    assert key_user.id == user.id and key.org_id == user.org_id
    assert set(key.scopes) == set(SCOPES)


async def test_bootstrap_platform_returns_none_and_creates_nothing_when_run_again(sm: Any) -> None:
    async with sm.begin() as session:
        assert await orgs.bootstrap_platform(session, default_domain=DEFAULT_DOMAIN) is not None
    async with sm.begin() as session:
        assert await orgs.bootstrap_platform(session, default_domain=DEFAULT_DOMAIN) is None
    async with sm() as session:
        counts = [await _count(session, m) for m in (Domain, Organization, User, ApiKey)]
    assert counts == [1, 1, 1, 1]


async def test_bootstrap_platform_creates_no_org_when_an_org_already_exists(sm: Any) -> None:
    async with sm.begin() as session:
        await orgs.create_organization(session, name="Existing", admin_email="a@example.test")
    async with sm.begin() as session:
        assert await orgs.bootstrap_platform(session, default_domain=DEFAULT_DOMAIN) is None
    async with sm() as session:
        assert await _count(session, Organization) == 1
        assert (await domains.default_domain(session)).name == DEFAULT_DOMAIN


async def test_bootstrap_platform_makes_changed_default_domain_the_default(sm: Any) -> None:
    # settings.default_domain is documented as "Domain of new inboxes": after an operator
    # changes it and restarts (bootstrap runs again), new inboxes must land on the new domain,
    # while the old one stays local so existing inboxes keep receiving mail.
    async with sm.begin() as session:
        await orgs.bootstrap_platform(session, default_domain="old.example.test")
    async with sm.begin() as session:
        assert await orgs.bootstrap_platform(session, default_domain="new.example.test") is None
    async with sm() as session:
        defaults = (
            await session.scalars(select(Domain.name).where(Domain.is_default.is_(True)))
        ).all()
        current = await domains.default_domain(session)
        assert await inboxes.is_local_domain(session, "old.example.test")
    assert current.name == "new.example.test"
    assert defaults == ["new.example.test"]


# --- api keys --------------------------------------------------------------------------------


async def test_authenticate_returns_key_and_user_for_the_secret(platform: Any, acme: Any) -> None:
    async with platform.begin() as session:
        found = await api_keys.authenticate(session, acme.secret)
    assert found is not None
    key, user = found
    assert (key.org_id, user.id) == (acme.org.id, acme.user.id)
    assert key.key_hash == hash_api_key(acme.secret)


async def test_authenticate_returns_none_for_unknown_secret(platform: Any, acme: Any) -> None:
    async with platform.begin() as session:
        assert await api_keys.authenticate(session, acme.secret + "x") is None
        assert await api_keys.authenticate(session, "pf_" + "A" * 43) is None


async def test_authenticate_returns_none_when_key_revoked(platform: Any, acme: Any) -> None:
    async with platform.begin() as session:
        key, secret = await api_keys.create_key(
            session, org_id=acme.org.id, user=acme.user, name="ci", scopes=["messages:read"]
        )
    async with platform.begin() as session:
        await api_keys.revoke_key(session, await api_keys.get_key(session, acme.org.id, key.id))
    async with platform.begin() as session:
        assert await api_keys.authenticate(session, secret) is None
        # The org's other key is unaffected.
        assert await api_keys.authenticate(session, acme.secret) is not None


async def test_authenticate_returns_none_when_key_expired(platform: Any, acme: Any) -> None:
    async with platform.begin() as session:
        _, expired = await api_keys.create_key(
            session,
            org_id=acme.org.id,
            user=acme.user,
            name="old",
            scopes=[],
            expires_at=utcnow() - timedelta(seconds=1),
        )
        _, live = await api_keys.create_key(
            session,
            org_id=acme.org.id,
            user=acme.user,
            name="new",
            scopes=[],
            expires_at=utcnow() + timedelta(hours=1),
        )
    async with platform.begin() as session:
        assert await api_keys.authenticate(session, expired) is None
        assert await api_keys.authenticate(session, live) is not None


async def test_authenticate_records_last_used_at_when_key_used(platform: Any, acme: Any) -> None:
    before = utcnow()
    async with platform.begin() as session:
        found = await api_keys.authenticate(session, acme.secret)
    assert found is not None
    async with platform() as session:
        stored = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == found[0].id))
    assert stored is not None and stored >= before - timedelta(seconds=1)


async def test_rotate_key_revokes_old_and_new_keeps_grants(platform: Any, acme: Any) -> None:
    async with platform.begin() as session:
        old, old_secret = await api_keys.create_key(
            session,
            org_id=acme.org.id,
            user=acme.user,
            name="bot",
            scopes=["a", "b", "a"],
            inbox_ids=["inb_1"],
            expires_at=utcnow() + timedelta(days=3),
        )
    async with platform.begin() as session:
        old = await api_keys.get_key(session, acme.org.id, old.id)
        new, new_secret = await api_keys.rotate_key(session, old)
    assert new_secret != old_secret
    async with platform.begin() as session:
        assert await api_keys.authenticate(session, old_secret) is None
        found = await api_keys.authenticate(session, new_secret)
        reloaded_old = await api_keys.get_key(session, acme.org.id, old.id)
    assert found is not None
    key = found[0]
    assert reloaded_old.revoked_at is not None
    assert (key.id, key.rotated_from_id, key.name) == (new.id, old.id, "bot")
    assert (key.scopes, key.inbox_ids, key.expires_at) == (["a", "b"], ["inb_1"], old.expires_at)


async def test_stored_key_row_holds_no_plaintext_secret(platform: Any, acme: Any) -> None:
    async with platform() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    assert len(rows) == 2  # the platform superadmin's and acme's
    stored = " ".join(str(v) for row in rows for v in row)
    secret_body = acme.secret[len("pf_") :]
    assert acme.secret not in stored
    # Not even a long piece of it: only the short display prefix may be kept.
    assert secret_body[12:] not in stored and secret_body[:20] not in stored
    assert hash_api_key(acme.secret) in stored


async def test_get_key_raises_not_found_for_another_orgs_key(
    platform: Any, acme: Any, globex: Any
) -> None:
    async with platform() as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.org_id == acme.org.id))
        assert (await api_keys.get_key(session, acme.org.id, key.id)).id == key.id
        with pytest.raises(NotFound):
            await api_keys.get_key(session, globex.org.id, key.id)
