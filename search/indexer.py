"""Indexing one message (inbound or outbound): keyword rows in the database, chunk vectors in
Chroma, attachment text extracted behind guards. Idempotent: a retry replaces what an
earlier attempt wrote. Used by the inbound pipeline's activity and by outbound storage."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from contracts.search import IndexResult
from search.chunking import chunk_text, normalize
from search.embeddings import EmbeddingUnavailable, get_embedder
from search.extractors import Extracted, Skipped, extract
from search.vector_index import VectorIndex
from search.vector_writer import writer_for
from store.base import new_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from settings import Settings
    from store.blobs import BlobStore
    from store.models import Attachment, Message

EXTRACT_TIMEOUT_SECONDS = 30.0
MAX_ATTACHMENTS = 20
MAX_BODY_CHARS = 100_000


def message_body(msg: Message) -> str:
    body = msg.stripped_text or msg.text
    if not body and msg.html:
        from mailparse.html_text import html_to_text

        body = html_to_text(msg.html)
    return normalize(body or "")[:MAX_BODY_CHARS]


def base_metadata(msg: Message) -> dict[str, Any]:
    address = (msg.from_address or "").lower()
    return {
        "org_id": msg.org_id, "inbox_id": msg.inbox_id, "thread_id": msg.thread_id or "",
        "message_id": msg.id, "direction": msg.direction, "category": msg.category or "",
        "from_address": address, "from_domain": address.rpartition("@")[2],
        "has_attachment": bool(msg.has_attachments),
        "received_at": msg.received_at.timestamp(),
    }  # fmt: skip


@dataclass
class _Doc:
    id: str
    source_type: str
    attachment_id: str | None
    title: str
    body: str


async def _attachment_text(blobs: BlobStore, att: Attachment, max_bytes: int) -> Extracted | Skipped:
    if att.size > max_bytes:
        return Skipped(f"larger than {max_bytes} bytes", "other")
    try:
        data = await asyncio.to_thread(blobs.get, att.sha256)
    except Exception as exc:  # noqa: BLE001
        return Skipped(f"blob unavailable: {exc}", "other")
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(extract, data, att.filename, att.content_type, max_bytes=max_bytes),
            EXTRACT_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        return Skipped(f"text extraction took longer than {EXTRACT_TIMEOUT_SECONDS:.0f}s", "other")


async def index_message(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], blobs: BlobStore,
    message_id: str,
) -> IndexResult:  # fmt: skip
    from store import messages
    from store.errors import NotFound
    from store.models import SearchDocument

    async with sessionmaker() as session:
        try:
            msg = await messages.get_for_pipeline(session, message_id)
        except NotFound:
            return IndexResult(message_id=message_id)  # deleted meanwhile: nothing to index
        atts = [a for a in await messages.attachments_of(session, msg)][:MAX_ATTACHMENTS]
        meta = base_metadata(msg)
        # Vectors exist only if an earlier run got that far; a first run skips the delete.
        reindex = "indexing" in (msg.analysis or {})
        docs = [_Doc(new_id("sdoc"), "message", None, msg.subject or "", message_body(msg))]
        inbox_id = msg.inbox_id  # the vector partition

    skipped: list[dict[str, str]] = []
    attachment_status: list[dict[str, Any]] = []
    for att in atts:
        if att.inline and att.content_type.startswith("image/"):
            continue
        got = await _attachment_text(blobs, att, settings.search_max_attachment_bytes)
        if isinstance(got, Skipped):
            skipped.append({"attachment_id": att.id, "filename": att.filename, "reason": got.reason})
            attachment_status.append({"attachment_id": att.id, "status": "skipped", "reason": got.reason})
            continue
        text = normalize(got.text)
        attachment_status.append({"attachment_id": att.id, "status": "indexed", "chars": len(text)})
        if text:
            docs.append(_Doc(new_id("sdoc"), "attachment", att.id, att.filename, text))

    # Vectors first (slow, outside any transaction), then the rows in one transaction.
    vector_error: str | None = None
    chunk_ids: list[str] = []
    chunk_texts: list[str] = []
    chunk_meta: list[dict[str, Any]] = []
    for doc in docs:
        title = doc.title if doc.source_type == "message" else f"Attachment {doc.title}"
        for i, chunk in enumerate(chunk_text(doc.body) or ([""] if doc.title else [])):
            # Deterministic ids: a retried attempt overwrites its own vectors, never duplicates.
            chunk_ids.append(f"{message_id}:{len(chunk_ids)}")
            chunk_texts.append(f"{title}\n{chunk}".strip())
            chunk_meta.append({**meta, "doc_id": doc.id, "source_type": doc.source_type,
                               "attachment_id": doc.attachment_id or "", "chunk": i})  # fmt: skip
    vectors = 0
    try:
        if reindex:
            await asyncio.to_thread(_drop_vectors, settings, inbox_id, message_id)
        await writer_for(settings, "mail").write(inbox_id, chunk_ids, chunk_texts, chunk_meta)
        vectors = len(chunk_ids)
    except EmbeddingUnavailable as exc:
        vector_error = str(exc)  # keyword search still works; recorded on the message
    async with sessionmaker.begin() as session:
        from search.keyword import ensure_ready

        await ensure_ready(session)
        try:
            msg = await messages.get_for_pipeline(session, message_id)
        except NotFound:
            await asyncio.to_thread(_drop_vectors, settings, inbox_id, message_id)
            return IndexResult(message_id=message_id)
        await session.execute(delete(SearchDocument).where(SearchDocument.message_id == message_id))
        for doc in docs:
            session.add(SearchDocument(
                id=doc.id, org_id=msg.org_id, inbox_id=msg.inbox_id, thread_id=msg.thread_id,
                message_id=msg.id, attachment_id=doc.attachment_id, source_type=doc.source_type,
                title=doc.title, body=doc.body,
            ))  # fmt: skip
        msg.analysis = {**(msg.analysis or {}), "indexing": {
            "documents": len(docs), "vectors": vectors, "vector_error": vector_error,
            "attachments": attachment_status,
        }}  # fmt: skip
    return IndexResult(message_id=message_id, documents=len(docs), vectors=vectors,
                       skipped_attachments=skipped, vector_error=vector_error)  # fmt: skip


def _drop_vectors(settings: Settings, inbox_id: str, message_id: str) -> None:
    try:
        embedder = get_embedder(settings)
    except EmbeddingUnavailable:
        return
    VectorIndex(settings, "mail", embedder.name).delete(inbox_id, {"message_id": message_id})


async def remove_message(session: AsyncSession, settings: Settings, inbox_id: str, message_id: str) -> None:
    """Forget a message: its keyword rows (in the caller's transaction) and its vectors."""
    from store.models import SearchDocument

    await session.execute(delete(SearchDocument).where(SearchDocument.message_id == message_id))
    await asyncio.to_thread(_drop_vectors, settings, inbox_id, message_id)

