"""Authentication, scopes, key lifecycle and tenant isolation through the real API."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant, make_tenant


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_key(api: AsyncClient, t: Tenant, **body: Any) -> dict[str, Any]:
    r = await api.post("/v1/api-keys", json={"name": "k", **body}, headers=t.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_request_without_key_is_401(api: AsyncClient) -> None:
    r = await api.get("/v1/inboxes")
    assert r.status_code == 401
    assert r.json() == {
        "status": 401, "code": "unauthorized", "message": "missing or invalid API key", "details": []
    }  # fmt: skip


async def test_request_with_unknown_key_is_401(api: AsyncClient) -> None:
    r = await api.get("/v1/inboxes", headers=bearer("pf_not-a-real-key"))
    assert r.status_code == 401


async def test_x_api_key_header_authenticates(api: AsyncClient, tenant: Tenant) -> None:
    r = await api.get("/v1", headers={"X-API-Key": tenant.key})
    assert r.status_code == 200
    assert r.json()["principal"]["org_id"] == tenant.org_id


async def test_key_without_scope_is_403(api: AsyncClient, tenant: Tenant) -> None:
    reader = await create_key(api, tenant, scopes=["mail.read"])
    r = await api.post("/v1/inboxes", json={"name": "x"}, headers=bearer(reader["api_key"]))
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    # ...while the scope it holds works.
    assert (await api.get("/v1/inboxes", headers=bearer(reader["api_key"]))).status_code == 200


async def test_key_secret_is_shown_once_and_stored_hashed(
    api: AsyncClient, tenant: Tenant, settings: Any
) -> None:
    created = await create_key(api, tenant, scopes=["mail.read"])
    assert created["api_key"].startswith("pf_")
    listed = (await api.get("/v1/api-keys", headers=tenant.headers)).json()["data"]
    assert created["id"] in [k["id"] for k in listed]
    assert all("api_key" not in k for k in listed)
    from sqlalchemy import select

    from store.engine import create_engine, create_sessionmaker
    from store.models import ApiKey

    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as s:
        row = await s.scalar(select(ApiKey).where(ApiKey.id == created["id"]))
    await engine.dispose()
    assert row is not None and created["api_key"] not in (row.key_hash, row.prefix)


async def test_cannot_grant_scopes_beyond_own(api: AsyncClient, tenant: Tenant) -> None:
    manager = await create_key(api, tenant, scopes=["keys.manage", "mail.read"])
    r = await api.post(
        "/v1/api-keys", json={"scopes": ["mail.send"]}, headers=bearer(manager["api_key"])
    )
    assert r.status_code == 403
    assert r.json()["details"][0]["field"] == "scopes"


async def test_unknown_scope_is_rejected_naming_the_field(
    api: AsyncClient, tenant: Tenant
) -> None:
    r = await api.post("/v1/api-keys", json={"scopes": ["mail.fly"]}, headers=tenant.headers)
    assert r.status_code == 400
    assert r.json()["code"] == "validation_error"
    assert any("scopes" in (d["field"] or "") for d in r.json()["details"])


async def test_revoked_key_fails_on_next_request(api: AsyncClient, tenant: Tenant) -> None:
    k = await create_key(api, tenant, scopes=["mail.read"])
    assert (await api.get("/v1/inboxes", headers=bearer(k["api_key"]))).status_code == 200
    r = await api.delete(f"/v1/api-keys/{k['id']}", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert (await api.get("/v1/inboxes", headers=bearer(k["api_key"]))).status_code == 401


async def test_rotate_issues_new_secret_and_revokes_old(api: AsyncClient, tenant: Tenant) -> None:
    k = await create_key(api, tenant, scopes=["mail.read"])
    r = await api.post(f"/v1/api-keys/{k['id']}/rotate", headers=tenant.headers)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["api_key"] != k["api_key"] and new["scopes"] == ["mail.read"]
    assert (await api.get("/v1/inboxes", headers=bearer(k["api_key"]))).status_code == 401
    assert (await api.get("/v1/inboxes", headers=bearer(new["api_key"]))).status_code == 200


async def test_expired_key_is_401(api: AsyncClient, tenant: Tenant, settings: Any) -> None:
    k = await create_key(api, tenant, scopes=["mail.read"], expires_in_days=1)
    from datetime import timedelta

    from sqlalchemy import update

    from store.base import utcnow
    from store.engine import create_engine, create_sessionmaker
    from store.models import ApiKey

    engine = create_engine(settings)
    async with create_sessionmaker(engine).begin() as s:
        await s.execute(
            update(ApiKey).where(ApiKey.id == k["id"]).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    await engine.dispose()
    assert (await api.get("/v1/inboxes", headers=bearer(k["api_key"]))).status_code == 401


async def test_other_tenants_inbox_is_404_and_invisible(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    r = await api.post("/v1/inboxes", json={"name": "private"}, headers=tenant.headers)
    inbox = r.json()
    for path in (f"/v1/inboxes/{inbox['id']}", f"/v1/inboxes/{inbox['id']}/messages"):
        r = await api.get(path, headers=other_tenant.headers)
        assert r.status_code == 404, path
        assert inbox["address"] not in r.text
    r = await api.patch(f"/v1/inboxes/{inbox['id']}", json={"name": "x"}, headers=other_tenant.headers)
    assert r.status_code == 404
    r = await api.delete(f"/v1/inboxes/{inbox['id']}", headers=other_tenant.headers)
    assert r.status_code == 404
    listed = (await api.get("/v1/inboxes?limit=100", headers=other_tenant.headers)).json()["data"]
    assert inbox["id"] not in [i["id"] for i in listed]
    # Keys are tenant-scoped too.
    keys = (await api.get("/v1/api-keys?limit=100", headers=tenant.headers)).json()["data"]
    r = await api.delete(f"/v1/api-keys/{keys[0]['id']}", headers=other_tenant.headers)
    assert r.status_code == 404


async def test_key_limited_to_inboxes_sees_only_those(api: AsyncClient, tenant: Tenant) -> None:
    a = (await api.post("/v1/inboxes", json={"name": "a"}, headers=tenant.headers)).json()
    b = (await api.post("/v1/inboxes", json={"name": "b"}, headers=tenant.headers)).json()
    k = await create_key(api, tenant, scopes=["mail.read"], inbox_ids=[a["id"]])
    h = bearer(k["api_key"])
    assert (await api.get(f"/v1/inboxes/{a['id']}", headers=h)).status_code == 200
    assert (await api.get(f"/v1/inboxes/{b['id']}", headers=h)).status_code == 404
    ids = [i["id"] for i in (await api.get("/v1/inboxes", headers=h)).json()["data"]]
    assert ids == [a["id"]]


async def test_only_superadmin_creates_orgs(
    api: AsyncClient, tenant: Tenant, superadmin_key: str
) -> None:
    r = await api.post("/v1/orgs", json={"name": "Sneaky"}, headers=tenant.headers)
    assert r.status_code == 403
    other = await make_tenant(api, superadmin_key, name="Legit")
    assert other.org_id != tenant.org_id
