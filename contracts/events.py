"""The event catalogue: every event type Postflow emits, with a JSON Schema for its `data`.

An event is written once (store.events) with a stable id; webhooks deliver, `GET /v1/events`
lists, and `GET /v1/events/stream` streams exactly this envelope:
`{"id", "type", "timestamp", "org_id", "inbox_id", "labels", "data"}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contracts.messages import MessageView, ThreadView


class MessageEventData(BaseModel):
    message: MessageView


class ThreadEventData(BaseModel):
    thread: ThreadView


class DeliveryEventData(BaseModel):
    message_id: str
    recipient: str | None = None
    status: str
    detail: str | None = None


class RuleMatchedData(BaseModel):
    rule_id: str
    message_id: str
    actions: list[str]


class AgentActionData(BaseModel):
    run_id: str
    action: str
    status: str
    arguments: dict[str, Any]
    action_id: str | None = None


class DomainVerifiedData(BaseModel):
    domain_id: str
    domain: str


class EndpointDisabledData(BaseModel):
    endpoint_id: str
    url: str
    reason: str


class TestEventData(BaseModel):
    endpoint_id: str
    message: str


CATALOGUE: dict[str, tuple[str, type[BaseModel]]] = {
    "message.received": ("A message arrived and was processed (whole parsed message; labels "
                         "`spam` and `unauthenticated` mark those variants)", MessageEventData),
    "message.sent": ("An outbound message was handed to its transport", DeliveryEventData),
    "message.delivered": ("The relay or recipient MX accepted an outbound message", DeliveryEventData),
    "message.deferred": ("A temporary delivery failure; it will be retried", DeliveryEventData),
    "message.bounced": ("A bounce (DSN) was received for an outbound message", DeliveryEventData),
    "message.complained": ("A recipient reported an outbound message as spam (ARF)", DeliveryEventData),
    "message.failed": ("An outbound message failed permanently", DeliveryEventData),
    "message.canceled": ("A scheduled or queued outbound message was canceled", DeliveryEventData),
    "message.awaiting_approval": ("An outbound message waits for human approval", DeliveryEventData),
    "message.approval_escalated": ("Nobody approved an outbound message in time; it expires "
                                   "after the same time again", DeliveryEventData),
    "thread.created": ("A new conversation started", ThreadEventData),
    "thread.updated": ("A conversation changed (new message, flags)", ThreadEventData),
    "rule.matched": ("A rule matched a message and ran its actions", RuleMatchedData),
    "agent.action": ("The agent chat proposed, ran or was refused an action", AgentActionData),
    "domain.verified": ("A domain's DNS records verified", DomainVerifiedData),
    "webhook.endpoint_disabled": ("A webhook endpoint was disabled (410, or failing too long)",
                                  EndpointDisabledData),
    "webhook.test": ("Sent by POST /v1/webhooks/{id}/test", TestEventData),
}  # fmt: skip

EVENT_TYPES = frozenset(CATALOGUE)


class EventEnvelope(BaseModel):
    id: str
    type: str
    timestamp: datetime
    org_id: str
    inbox_id: str | None
    labels: list[str]
    data: dict[str, Any]


def catalogue() -> list[dict[str, Any]]:
    """Every type with its description and the JSON Schema of its `data`."""
    return [
        {"type": t, "description": desc, "schema": model.model_json_schema(by_alias=True)}
        for t, (desc, model) in CATALOGUE.items()
    ]
