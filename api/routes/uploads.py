"""`POST /v1/attachments`: upload a file to attach to outbound mail (base64 JSON or
multipart/form-data, field `file`). The content type is sniffed (`filetype`), never trusted
from the client alone; the bytes go to the blob store and an attachment row with no message
waits for a send to use it (sends copy it, so one upload can go out many times)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from typing import Any

import filetype
from litestar import Controller, Request, post
from litestar.datastructures import State, UploadFile
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import ApiError
from contracts import errors
from contracts.sending import UploadJson, UploadView
from mailparse.filenames import safe_filename
from store.base import new_id
from store.models import Attachment

_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def _bad(fld: str, message: str, status: int = 422) -> ApiError:
    code = errors.PAYLOAD_TOO_LARGE if status == 413 else errors.VALIDATION_ERROR
    return ApiError(status, code, message, [{"field": fld, "message": message}])


def sniff(content: bytes, declared: str | None) -> str:
    """The sniffed type when the bytes say; else a sane declared type; else text or binary."""
    kind = filetype.guess(content)
    if kind is not None:
        return str(kind.mime)
    declared = (declared or "").split(";")[0].strip().lower()
    if declared and _MIME.match(declared) and not declared.startswith(("image/", "video/", "audio/")):
        return declared  # claims of media types that the magic numbers do not back are refused
    try:
        content.decode("utf-8")
        return "text/plain"
    except UnicodeDecodeError:
        return "application/octet-stream"


async def _parse(request: Request[Any, Any, Any]) -> tuple[str, bytes, str | None]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _bad("file", "send the file in the multipart field `file`")
        return upload.filename or "", await upload.read(), upload.content_type
    if not ctype.startswith("application/json"):
        raise ApiError(415, "unsupported_media_type", "send application/json or multipart/form-data")
    try:
        data = UploadJson.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors()[0]
        fld = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise _bad(fld, first.get("msg", "invalid")) from None
    try:
        content = base64.b64decode(data.content, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("content", "content is not valid base64") from None
    return data.filename, content, data.content_type


class UploadController(Controller):
    path = "/v1/attachments"
    tags = ["attachments"]

    @post("/", guards=[requires("mail.send")], status_code=201,
          summary="Upload an attachment for outbound mail (base64 JSON or multipart `file`)")  # fmt: skip
    async def upload(self, request: Request[Any, Any, Any], db: AsyncSession, state: State,
                     principal: Principal) -> UploadView:  # fmt: skip
        filename, content, declared = await _parse(request)
        limit = state.settings.outbound_max_attachment_bytes
        if len(content) > limit:
            raise _bad("content", f"the file is {len(content)} bytes; the limit is {limit}", 413)
        if not content:
            raise _bad("content", "the file is empty")
        content_type = sniff(content, declared)
        name = safe_filename(filename, 1, content_type)
        sha = await asyncio.to_thread(state.blobs.put, content)
        att = Attachment(id=new_id("att"), org_id=principal.org_id, message_id=None, filename=name,
                         content_type=content_type, size=len(content), sha256=sha)  # fmt: skip
        db.add(att)
        await db.flush()
        audit_action(db, principal, "attachment.upload", resource_type="attachment",
                     resource_id=att.id, details={"size": len(content)})  # fmt: skip
        return UploadView(id=att.id, filename=name, content_type=content_type, size=att.size,
                          sha256=sha)  # fmt: skip
