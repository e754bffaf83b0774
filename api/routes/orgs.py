"""Organizations: the platform superadmin creates them; admins read and rename their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get, patch, post
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal, requires, superadmin_only
from store import orgs
from store.models import Organization


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    admin_email: str | None = Field(None, max_length=320)


class OrgUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)


class OrgOut(BaseModel):
    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, org: Organization) -> OrgOut:
        return cls(id=org.id, name=org.name, created_at=org.created_at)


class OrgCreated(BaseModel):
    organization: OrgOut
    api_key_id: str
    api_key: str = Field(description="The first admin key of the new organization. Shown once.")


class OrgController(Controller):
    path = "/v1"
    tags = ["organizations"]

    @post("/orgs", guards=[superadmin_only], summary="Create an organization (superadmin)")
    async def create(self, data: OrgCreate, db: AsyncSession, principal: Principal) -> OrgCreated:
        org, _, key, secret = await orgs.create_organization(
            db, name=data.name, admin_email=data.admin_email
        )
        audit_action(db, principal, "org.create", resource_type="organization", resource_id=org.id)
        return OrgCreated(organization=OrgOut.of(org), api_key_id=key.id, api_key=secret)

    @get("/org", summary="The caller's organization")
    async def read(self, db: AsyncSession, principal: Principal) -> OrgOut:
        return OrgOut.of(await orgs.get_org(db, principal.org_id))

    @patch("/org", guards=[requires("admin")], summary="Update the caller's organization")
    async def update(self, data: OrgUpdate, db: AsyncSession, principal: Principal) -> OrgOut:
        org = await orgs.get_org(db, principal.org_id)
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        for field, value in changes.items():
            if value is not None:
                setattr(org, field, value)
        await db.flush()
        audit_action(db, principal, "org.update", resource_type="organization", resource_id=org.id)
        return OrgOut.of(org)
