"""The event log over HTTP: list (oldest first, for catch-up), read one, the catalogue of
types with their JSON Schemas, and a live Server-Sent Events stream with Last-Event-ID resume.

Reading events needs `mail.read`: an event carries the mail it is about. Keys see only their
organization's events, and a key limited to some inboxes only those inboxes' events.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import HeaderParameter, Parameter, QueryParameter
from litestar.response import ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, requires
from api.errors import ApiError
from api.event_stream import frames
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts import errors
from contracts.events import EVENT_TYPES, EventEnvelope, catalogue
from store import inboxes
from store.base import utcnow
from store.event_queries import EventFilter, get_event, id_floor, list_events
from store.models import Event

EVENT_ID = re.compile(r"^evt_[0-9a-z]{26}$")


class EventTypeOut(BaseModel):
    type: str
    description: str
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of the `data`")

    model_config = ConfigDict(populate_by_name=True)


def envelope(ev: Event) -> EventEnvelope:
    return EventEnvelope(
        id=ev.id, type=ev.type, timestamp=ev.created_at, org_id=ev.org_id, inbox_id=ev.inbox_id,
        labels=list(ev.labels or []), data=ev.payload or {},
    )  # fmt: skip


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, errors.VALIDATION_ERROR, message, [{"field": field, "message": message}])


def checked_types(types: list[str] | None) -> tuple[str, ...]:
    for t in types or []:
        if t not in EVENT_TYPES:
            raise _invalid("type", f"unknown event type {t[:60]!r}; see GET /v1/events/types")
    return tuple(dict.fromkeys(types or []))


def checked_event_id(value: str | None, field: str) -> str | None:
    if value is not None and not EVENT_ID.match(value):
        raise _invalid(field, "not an event id (evt_…)")
    return value


async def _filter(db: AsyncSession, principal: Principal, types: list[str] | None,
                  inbox_id: str | None) -> EventFilter:  # fmt: skip
    flt = EventFilter(types=checked_types(types), inbox_id=inbox_id)
    if inbox_id is not None:
        await inboxes.get_inbox(db, principal.scope, inbox_id)  # 404 for an invisible inbox
    return flt


# Typed Any: Litestar's parameter markers stand in for the parameter's value.
TYPE_PARAM: Any = QueryParameter(
    name="type", default=None, max_items=len(EVENT_TYPES),
    description="only these types (repeat the parameter for several)",
)  # fmt: skip
SINCE_PARAM: Any = Parameter(default=None, description="only events written from this time on")
LAST_EVENT_ID: Any = HeaderParameter(name="Last-Event-ID", default=None, max_length=40)


class EventController(Controller):
    path = "/v1/events"
    tags = ["events"]

    @get("/", guards=[requires("mail.read")],
         summary="List events oldest first; resume `after` the last id processed")  # fmt: skip
    async def list_events(
        self, db: AsyncSession, principal: Principal,
        types: list[str] | None = TYPE_PARAM,
        inbox_id: str | None = Parameter(default=None, max_length=40),
        after: str | None = Parameter(default=None, max_length=40,
                                      description="an event id: only events after it"),
        since: datetime | None = SINCE_PARAM,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[EventEnvelope]:  # fmt: skip
        flt = await _filter(db, principal, types, inbox_id)
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # a time without a zone is UTC
        bounds = [decode_cursor(cursor), checked_event_id(after, "after"),
                  id_floor(since) if since is not None else None]  # fmt: skip
        start = max((b for b in bounds if b is not None), default=None)
        page = await list_events(db, principal.scope, flt, limit=limit, after=start)
        return ListResponse[EventEnvelope](**to_list_response(page, envelope))

    @get("/types", guards=[requires("mail.read", "webhooks.manage")],
         summary="The event catalogue: every type with the JSON Schema of its `data`")  # fmt: skip
    async def types(self) -> list[EventTypeOut]:
        return [EventTypeOut.model_validate(entry) for entry in catalogue()]

    @get("/stream", guards=[requires("mail.read")], media_type="text/event-stream",
         summary="Live events as Server-Sent Events (resume with the Last-Event-ID header)",
         description="Each event is a frame `id: <event id>`, `event: <type>`, `data: <envelope "
         "JSON>`. Without Last-Event-ID or `after` the stream starts now. The server polls the "
         "event log about every 250 ms, sends a `: keep-alive` comment every 15 s and closes "
         "the stream after 15 minutes (or when the key is revoked); clients reconnect with "
         "Last-Event-ID, as EventSource does by itself.")  # fmt: skip
    async def stream(
        self, db: AsyncSession, principal: Principal, state: State,
        types: list[str] | None = TYPE_PARAM,
        inbox_id: str | None = Parameter(default=None, max_length=40),
        after: str | None = Parameter(default=None, max_length=40,
                                      description="an event id: stream events after it"),
        last_event_id: str | None = LAST_EVENT_ID,
    ) -> ServerSentEvent:  # fmt: skip
        flt = await _filter(db, principal, types, inbox_id)
        resume = checked_event_id(last_event_id, "Last-Event-ID")
        start = resume or checked_event_id(after, "after") or id_floor(utcnow())
        return ServerSentEvent(frames(state.sessionmaker, principal, flt, start, envelope))

    @get("/{event_id:str}", guards=[requires("mail.read")], summary="Read one event")
    async def read(self, event_id: str, db: AsyncSession, principal: Principal) -> EventEnvelope:
        return envelope(await get_event(db, principal.scope, event_id))
