"""Knowledge base: articles and files (CRUD, scope knowledge.manage) and search (scope
mail.read or knowledge.manage: agents that read mail may consult the knowledge base)."""

from __future__ import annotations

import asyncio
import base64
import binascii

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts import errors
from contracts.search import (
    MAX_QUERY_CHARS,
    KnowledgeArticleIn,
    KnowledgeArticleUpdate,
    KnowledgeItemView,
    KnowledgeSearchResponse,
)
from search import knowledge as kb
from search.extractors import Extracted, extract
from store import knowledge
from store.base import new_id
from store.models import KnowledgeItem

MAX_FILE_BYTES = 20 * 1024 * 1024


class KnowledgeFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field("application/octet-stream", max_length=255)
    content: str = Field(min_length=1, description="base64")
    title: str | None = Field(None, max_length=300)
    tags: list[str] = Field(default_factory=list, max_length=50)


def view(item: KnowledgeItem) -> KnowledgeItemView:
    return KnowledgeItemView(
        id=item.id, kind=item.kind, title=item.title,  # type: ignore[arg-type]
        body=item.body if item.kind == "article" else None, tags=list(item.tags or []),
        filename=item.filename, content_type=item.content_type, size=item.size, status=item.status,
        skip_reason=item.skip_reason, chunk_count=item.chunk_count, created_at=item.created_at,
        updated_at=item.updated_at,
    )  # fmt: skip


def _bad(field: str, message: str) -> ApiError:
    return ApiError(422, errors.VALIDATION_ERROR, message, [{"field": field, "message": message}])


class KnowledgeController(Controller):
    path = "/v1/knowledge"
    tags = ["knowledge"]
    guards = [requires("knowledge.manage")]

    @post("/articles", status_code=201, summary="Add an article to the knowledge base")
    async def create_article(self, data: KnowledgeArticleIn, db: AsyncSession, state: State,
                             principal: Principal) -> KnowledgeItemView:  # fmt: skip
        item = KnowledgeItem(id=new_id("kb"), org_id=principal.org_id, kind="article",
                             title=data.title, body=data.body, tags=data.tags, size=len(data.body))  # fmt: skip
        item.chunk_count = await kb.index_item(state.settings, item)
        db.add(item)
        await db.flush()
        audit_action(db, principal, "knowledge.create", resource_type="knowledge", resource_id=item.id)
        return view(item)

    @get("/articles", summary="List articles")
    async def list_articles(self, db: AsyncSession, principal: Principal,
                            limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
                            cursor: str | None = Parameter(default=None, max_length=200),
                            ) -> ListResponse[KnowledgeItemView]:  # fmt: skip
        page = await knowledge.list_items(db, principal.scope, "article", limit=limit, after=decode_cursor(cursor))
        return ListResponse[KnowledgeItemView](**to_list_response(page, view))

    @get("/articles/{item_id:str}", summary="Read an article")
    async def read_article(self, item_id: str, db: AsyncSession, principal: Principal) -> KnowledgeItemView:
        return view(await knowledge.get_item(db, principal.scope, item_id, "article"))

    @patch("/articles/{item_id:str}", summary="Change an article (re-indexed)")
    async def update_article(self, item_id: str, data: KnowledgeArticleUpdate, db: AsyncSession,
                             state: State, principal: Principal) -> KnowledgeItemView:  # fmt: skip
        item = await knowledge.get_item(db, principal.scope, item_id, "article")
        for name, value in data.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(item, name, value)
        item.size = len(item.body)
        item.chunk_count = await kb.index_item(state.settings, item)
        await db.flush()
        audit_action(db, principal, "knowledge.update", resource_type="knowledge", resource_id=item.id)
        return view(item)

    @delete("/articles/{item_id:str}", summary="Delete an article")
    async def delete_article(self, item_id: str, db: AsyncSession, state: State, principal: Principal) -> None:
        await self._delete(item_id, "article", db, state, principal)

    @post("/files", status_code=201, summary="Add a file (base64 JSON); its text is indexed")
    async def create_file(self, data: KnowledgeFileIn, db: AsyncSession, state: State,
                          principal: Principal) -> KnowledgeItemView:  # fmt: skip
        try:
            content = base64.b64decode(data.content, validate=True)
        except (binascii.Error, ValueError):
            raise _bad("content", "content is not valid base64") from None
        if len(content) > MAX_FILE_BYTES:
            raise ApiError(413, errors.PAYLOAD_TOO_LARGE, f"the file is larger than {MAX_FILE_BYTES} bytes")
        sha = await asyncio.to_thread(state.blobs.put, content)
        got = await asyncio.to_thread(extract, content, data.filename, data.content_type,
                                      max_bytes=MAX_FILE_BYTES)  # fmt: skip
        item = KnowledgeItem(
            id=new_id("kb"), org_id=principal.org_id, kind="file", title=data.title or data.filename,
            body=got.text if isinstance(got, Extracted) else "", tags=data.tags, filename=data.filename,
            content_type=data.content_type, size=len(content), sha256=sha,
            status="indexed" if isinstance(got, Extracted) else "skipped",
            skip_reason=None if isinstance(got, Extracted) else got.reason[:300],
        )  # fmt: skip
        if isinstance(got, Extracted):
            item.chunk_count = await kb.index_item(state.settings, item)
        db.add(item)
        await db.flush()
        audit_action(db, principal, "knowledge.create", resource_type="knowledge", resource_id=item.id)
        return view(item)

    @get("/files", summary="List files")
    async def list_files(self, db: AsyncSession, principal: Principal,
                         limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
                         cursor: str | None = Parameter(default=None, max_length=200),
                         ) -> ListResponse[KnowledgeItemView]:  # fmt: skip
        page = await knowledge.list_items(db, principal.scope, "file", limit=limit, after=decode_cursor(cursor))
        return ListResponse[KnowledgeItemView](**to_list_response(page, view))

    @get("/files/{item_id:str}", summary="Read a file's record")
    async def read_file(self, item_id: str, db: AsyncSession, principal: Principal) -> KnowledgeItemView:
        return view(await knowledge.get_item(db, principal.scope, item_id, "file"))

    @delete("/files/{item_id:str}", summary="Delete a file")
    async def delete_file(self, item_id: str, db: AsyncSession, state: State, principal: Principal) -> None:
        await self._delete(item_id, "file", db, state, principal)

    async def _delete(self, item_id: str, kind: str, db: AsyncSession, state: State, principal: Principal) -> None:
        item = await knowledge.get_item(db, principal.scope, item_id, kind)
        await kb.drop_item(state.settings, item.org_id, item.id)
        await db.delete(item)
        audit_action(db, principal, "knowledge.delete", resource_type="knowledge", resource_id=item_id)


@get("/v1/knowledge/search", guards=[requires("mail.read", "knowledge.manage")], tags=["knowledge"],
     summary="Search the knowledge base (scope mail.read or knowledge.manage)")  # fmt: skip
async def search_knowledge(db: AsyncSession, state: State, principal: Principal, q: str | None = None,
                           limit: int = Parameter(default=10, ge=1, le=100)) -> KnowledgeSearchResponse:  # fmt: skip
    q = (q or "").strip()
    if not q or len(q) > MAX_QUERY_CHARS:
        raise _bad("q", f"q must be 1–{MAX_QUERY_CHARS} characters")
    return await kb.search(db, state.settings, principal.scope, q, limit)
