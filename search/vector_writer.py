"""Coalescing vector writes: concurrent indexing activities of one worker hand their chunks
to one writer per event loop, which embeds everything that queued up in one batch and
upserts once per collection. One message alone costs the same as before; fifty arriving
together cost one ONNX batch and a few Chroma calls instead of fifty of each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search.embeddings import get_embedder
from search.vector_index import VectorIndex

if TYPE_CHECKING:
    from settings import Settings

MAX_BATCH_TEXTS = 512


@dataclass
class _Request:
    partition: str
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    done: asyncio.Future[None]


class VectorWriter:
    def __init__(self, settings: Settings, kind: str) -> None:
        self.settings = settings
        self.kind = kind
        self._pending: list[_Request] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, partition: str, ids: list[str], texts: list[str],
                    metadatas: list[dict[str, Any]]) -> None:  # fmt: skip
        """Embed and upsert; raises EmbeddingUnavailable (or Chroma's error) to the caller."""
        if not ids:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(partition, ids, texts, metadatas, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let callers scheduled in the same tick join the first batch
        while self._pending:
            batch: list[_Request] = []
            size = 0
            while self._pending and (not batch or size + len(self._pending[0].ids) <= MAX_BATCH_TEXTS):
                req = self._pending.pop(0)
                batch.append(req)
                size += len(req.ids)
            try:
                await asyncio.to_thread(self._write_sync, batch)
            except Exception as exc:  # noqa: BLE001  (each caller gets the error and retries)
                for req in batch:
                    if not req.done.done():
                        req.done.set_exception(exc)
            else:
                for req in batch:
                    if not req.done.done():
                        req.done.set_result(None)

    def _write_sync(self, batch: list[_Request]) -> None:
        embedder = get_embedder(self.settings)
        vectors = embedder.embed([t for req in batch for t in req.texts])
        index = VectorIndex(self.settings, self.kind, embedder.name)
        by_org: dict[str, tuple[list[str], list[list[float]], list[str], list[dict[str, Any]]]] = {}
        i = 0
        for req in batch:
            ids, vecs, docs, metas = by_org.setdefault(req.partition, ([], [], [], []))
            ids += req.ids
            vecs += vectors[i : i + len(req.ids)]
            docs += req.texts
            metas += req.metadatas
            i += len(req.ids)
        for partition, (ids, vecs, docs, metas) in by_org.items():
            # The same message indexed twice in one batch (a retried activity racing its first
            # attempt) repeats ids, which Chroma refuses in one upsert: keep the last of each.
            last = {chunk_id: n for n, chunk_id in enumerate(ids)}
            if len(last) < len(ids):
                keep = sorted(last.values())
                ids, vecs = [ids[n] for n in keep], [vecs[n] for n in keep]
                docs, metas = [docs[n] for n in keep], [metas[n] for n in keep]
            index.upsert(partition, ids, vecs, docs, metas)


_writers: dict[tuple[int, str, str], VectorWriter] = {}


def writer_for(settings: Settings, kind: str) -> VectorWriter:
    """The writer of the running event loop for this index location and kind."""
    loop_id = id(asyncio.get_running_loop())
    key = (loop_id, settings.chroma_url or str(settings.data_dir.resolve()), kind)
    found = _writers.get(key)
    if found is None:
        found = _writers[key] = VectorWriter(settings, kind)
    return found
