"""Attachments: metadata, a signed expiring URL, and the download that URL points to."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import quote

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import Parameter
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, requires
from api.errors import ApiError
from contracts import errors
from contracts.messages import AttachmentView
from crypto import signed_urls
from store.errors import NotFound
from store.models import Attachment, Message
from store.views import attachment_view

URL_TTL_SECONDS = 3600


class SignedUrl(BaseModel):
    url: str
    expires_at: datetime


async def _visible(db: AsyncSession, principal: Principal, attachment_id: str) -> Attachment:
    att = await db.scalar(
        select(Attachment).join(Message, Message.id == Attachment.message_id).where(
            Attachment.id == attachment_id,
            principal.scope.owns_inbox_column(Message.org_id, Message.inbox_id),
        )
    )
    if att is None:
        raise NotFound("attachment not found", field="attachment_id")
    return att


class AttachmentController(Controller):
    path = "/v1/attachments"
    tags = ["attachments"]

    @get("/{attachment_id:str}", guards=[requires("mail.read")], summary="Attachment metadata")
    async def read(self, attachment_id: str, db: AsyncSession, principal: Principal) -> AttachmentView:
        return attachment_view(await _visible(db, principal, attachment_id))

    @get("/{attachment_id:str}/url", guards=[requires("mail.read")], summary="A signed download URL")
    async def url(self, attachment_id: str, db: AsyncSession, principal: Principal, state: State) -> SignedUrl:
        att = await _visible(db, principal, attachment_id)
        expires = int(time.time()) + URL_TTL_SECONDS
        sig = signed_urls.sign(state.settings.master_key_bytes(), att.id, expires)
        url = f"{state.settings.public_url}/v1/attachments/{att.id}/download?expires={expires}&sig={sig}"
        return SignedUrl(url=url, expires_at=datetime.fromtimestamp(expires, UTC))

    @get("/{attachment_id:str}/download", exclude_from_auth=True, summary="Download (signed URL)")
    async def download(
        self, attachment_id: str, db: AsyncSession, state: State,
        expires: int = Parameter(ge=0, le=2**40), sig: str = Parameter(max_length=100),
    ) -> Response[bytes]:  # fmt: skip
        if not signed_urls.verify(state.settings.master_key_bytes(), attachment_id, expires, sig):
            raise ApiError(403, errors.FORBIDDEN, "invalid or expired signature",
                           [{"field": "sig", "message": "invalid or expired"}])  # fmt: skip
        att = await db.get(Attachment, attachment_id)
        if att is None:
            raise NotFound("attachment not found", field="attachment_id")
        return Response(state.blobs.get(att.sha256), media_type=att.content_type,
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.filename)}",
                                 "X-Content-Type-Options": "nosniff"})  # fmt: skip
