"""Search indexing activity: a local activity of InboundMail (after processing) and of
OutboundMail (once the message is sent or captured), both behind the "search-index" patch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from contracts.search import IndexResult, MessageRef

if TYPE_CHECKING:
    from activities.deps import ActivityDeps


class IndexingActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="search.index_message")
    async def index_message(self, ref: MessageRef) -> IndexResult:
        from search.indexer import index_message

        d = self.deps
        return await index_message(d.settings, d.sessionmaker, d.blobs, ref.message_id)
