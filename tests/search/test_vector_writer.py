"""The coalescing vector writer: concurrent writes of one worker share a batch, and the same
chunk ids twice in one batch (a retried indexing activity racing its first attempt) are
written once instead of failing Chroma's upsert."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from search.embeddings import get_embedder
from search.vector_index import VectorIndex
from search.vector_writer import VectorWriter


async def test_same_ids_twice_in_one_batch_are_written_once(settings: Any, tmp_path: Path) -> None:
    conf = settings.model_copy(update={"data_dir": tmp_path, "chroma_url": ""})
    writer = VectorWriter(conf, "mail")
    partition = f"inb_{uuid.uuid4().hex[:12]}"
    ids = [f"msg_x:{n}" for n in range(3)]
    meta = [{"org_id": "org_x", "inbox_id": partition, "message_id": "msg_x"}] * 3
    first = writer.write(partition, ids, ["one", "two", "three"], meta)
    again = writer.write(partition, ids, ["one", "two", "three, edited"], meta)
    await asyncio.gather(first, again)  # one flush: Chroma would refuse the repeated ids

    index = VectorIndex(conf, "mail", get_embedder(conf).name)
    assert index.count(partition, {"message_id": "msg_x"}) == 3
