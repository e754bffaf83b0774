"""Search, knowledge and AI payloads: activity inputs/results and the public API shapes.

`search_mail` (MCP) and `GET /v1/search/*` return the same models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.messages import AddressView, PromptInjectionView  # noqa: F401  (re-exported)

SearchMode = Literal["hybrid", "semantic", "keyword"]
MAX_QUERY_CHARS = 1000


class MessageRef(BaseModel):
    message_id: str


class IndexResult(BaseModel):
    message_id: str
    documents: int = 0
    vectors: int = 0
    skipped_attachments: list[dict[str, str]] = []
    vector_error: str | None = None


class AiResult(BaseModel):
    message_id: str
    steps: list[str] = []  # the steps that ran: screen, summary, extraction, llm_screen


class SearchParams(BaseModel):
    """What a search asks for; validated at the edge (REST query / MCP arguments)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    inbox_id: str | None = None
    domain_id: str | None = None
    mode: SearchMode = "hybrid"
    limit: int = Field(10, ge=1, le=100)
    from_: str | None = Field(None, alias="from", max_length=320)
    since: datetime | None = None
    before: datetime | None = None
    category: str | None = Field(None, max_length=30)
    has_attachment: bool | None = None


class MessageHit(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    message_id: str
    thread_id: str | None
    inbox_id: str
    subject: str
    from_: AddressView = Field(alias="from")
    direction: str
    received_at: datetime
    score: float = Field(ge=0, le=1)
    search_type: Literal["keyword", "semantic", "hybrid"]
    source_type: Literal["message", "attachment"]
    attachment_id: str | None = None
    attachment_filename: str | None = None
    snippet: str
    # The snippet, HTML-escaped, with query terms wrapped in <mark>…</mark>.
    highlight: str


class ThreadHit(BaseModel):
    thread_id: str
    inbox_id: str
    subject: str
    message_count: int
    last_message_at: datetime
    score: float = Field(ge=0, le=1)
    search_type: Literal["keyword", "semantic", "hybrid"]
    matches: list[MessageHit]  # the best matching messages of the thread (up to 3)


class SearchInfo(BaseModel):
    mode: SearchMode  # what was asked for
    effective_mode: SearchMode  # what ran: keyword when no embedding model is available
    fallback_reason: str | None = None
    took_ms: float


class MessageSearchResponse(BaseModel):
    data: list[MessageHit]
    search: SearchInfo


class ThreadSearchResponse(BaseModel):
    data: list[ThreadHit]
    search: SearchInfo


class ExtractionSchemaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    schema_: dict[str, Any] = Field(alias="schema")
    enabled: bool = True


class ExtractionSchemaView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    inbox_id: str
    name: str
    description: str
    schema_: dict[str, Any] = Field(alias="schema")
    enabled: bool
    created_at: datetime
    updated_at: datetime


class KnowledgeArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=500_000)
    tags: list[str] = Field(default_factory=list, max_length=50)


class KnowledgeArticleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=300)
    body: str | None = Field(None, min_length=1, max_length=500_000)
    tags: list[str] | None = Field(None, max_length=50)


class KnowledgeItemView(BaseModel):
    id: str
    kind: Literal["article", "file"]
    title: str
    body: str | None  # articles; files expose their extracted text length only
    tags: list[str]
    filename: str | None
    content_type: str | None
    size: int
    status: str
    skip_reason: str | None
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class KnowledgeHit(BaseModel):
    item_id: str
    kind: Literal["article", "file"]
    title: str
    score: float = Field(ge=0, le=1)
    search_type: Literal["keyword", "semantic"]
    snippet: str
    highlight: str


class KnowledgeSearchResponse(BaseModel):
    data: list[KnowledgeHit]
    search: SearchInfo
