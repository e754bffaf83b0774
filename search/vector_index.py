"""The Chroma vector index: embedded (PersistentClient under data_dir/chroma) in dev, a
Chroma server when `chroma_url` is set. Synchronous: callers run it in a thread.

Collections are partitions: one per inbox for mail (`mail_<inbox>_<model>`), one per
organization for the knowledge base (`kb_<org>_<model>`). A mail search queries only the
collections of the inboxes the caller may see (resolved by a tenant-scoped SQL query), so a
vector of another tenant or an invisible inbox is never even read; a `where` clause on
org/inbox inside one shared collection would do the same but costs 30-60 ms at 10 000
vectors (Chroma pre-filters through its metadata store), a partition costs nothing.
Vectors are computed by search.embeddings and passed in; Chroma never embeds by itself.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from settings import Settings

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client_for(settings: Settings) -> Any:
    """One Chroma client per process and location (the embedded one must not be opened twice)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    key = settings.chroma_url or str((settings.data_dir / "chroma").resolve())
    with _lock:
        found = _clients.get(key)
        if found is None:
            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            if settings.chroma_url:
                url = urlsplit(settings.chroma_url)
                found = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1", port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https", settings=chroma_settings,
                )  # fmt: skip
            else:
                path = settings.data_dir / "chroma"
                path.mkdir(parents=True, exist_ok=True)
                found = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            _clients[key] = found
    return found


def collection_name(kind: str, partition: str, model: str) -> str:
    tag = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{kind}_{partition}_{tag}"[:63]


@dataclass(frozen=True)
class VectorHit:
    id: str
    score: float  # cosine similarity clipped to 0–1
    document: str
    metadata: dict[str, Any]


class VectorIndex:
    def __init__(self, settings: Settings, kind: str, model: str) -> None:
        self.settings = settings
        self.kind = kind
        self.model = model

    def _collection(self, partition: str, *, create: bool) -> Any:
        client = client_for(self.settings)
        name = collection_name(self.kind, partition, self.model)
        if create:
            return client.get_or_create_collection(
                name, embedding_function=None,
                metadata={"hnsw:space": "cosine", "model": self.model},
            )  # fmt: skip
        try:
            return client.get_collection(name, embedding_function=None)
        except Exception:  # noqa: BLE001  (chroma raises NotFoundError/ValueError by version)
            return None

    def upsert(self, partition: str, ids: list[str], vectors: list[list[float]],
               documents: list[str], metadatas: list[dict[str, Any]]) -> None:  # fmt: skip
        if not ids:
            return
        col = self._collection(partition, create=True)
        col.upsert(ids=ids, embeddings=vectors, documents=documents, metadatas=metadatas)

    def delete(self, partition: str, where: dict[str, Any]) -> None:
        col = self._collection(partition, create=False)
        if col is not None:
            col.delete(where=where)

    def count(self, partition: str, where: dict[str, Any]) -> int:
        col = self._collection(partition, create=False)
        if col is None:
            return 0
        return len(col.get(where=where, include=[])["ids"])

    def query(self, partition: str, vector: list[float], where: dict[str, Any] | None, n: int) -> list[VectorHit]:
        col = self._collection(partition, create=False)
        if col is None:
            return []
        res = col.query(query_embeddings=[vector], n_results=n, where=where or None,
                        include=["documents", "metadatas", "distances"])  # fmt: skip
        hits = []
        for id_, doc, meta, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0],
                                        res["distances"][0], strict=True):  # fmt: skip
            hits.append(VectorHit(id_, max(0.0, min(1.0, 1.0 - float(dist))), doc or "", dict(meta or {})))
        return hits


def where_all(*clauses: dict[str, Any] | None) -> dict[str, Any] | None:
    """Chroma wants `$and` for two or more conditions and a bare condition for one."""
    items = [c for c in clauses if c]
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return {"$and": items}
