"""ORM models, one module per aggregate; importing this package registers them all."""

from store.models.audit import AuditEntry
from store.models.chat import AgentRun, McpSession
from store.models.deliverability import (
    AccessListEntry,
    DeliveryEvent,
    DkimKey,
    RateLimitCounter,
    Suppression,
)
from store.models.event import Event
from store.models.inbox import Domain, Inbox
from store.models.message import Attachment, Message, Thread
from store.models.organization import ApiKey, Department, Organization, User
from store.models.outbound import (
    FollowUpSequence,
    IdempotencyKey,
    OutboundRecipient,
    OutboundSend,
    SmtpConfig,
)
from store.models.search import ExtractionSchema, KnowledgeItem, SearchDocument
from store.models.wait import Wait
from store.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessListEntry",
    "AgentRun",
    "ApiKey",
    "Attachment",
    "AuditEntry",
    "DeliveryEvent",
    "Department",
    "DkimKey",
    "Domain",
    "Event",
    "ExtractionSchema",
    "FollowUpSequence",
    "IdempotencyKey",
    "Inbox",
    "KnowledgeItem",
    "McpSession",
    "Message",
    "Organization",
    "OutboundRecipient",
    "OutboundSend",
    "RateLimitCounter",
    "SearchDocument",
    "SmtpConfig",
    "Suppression",
    "Thread",
    "User",
    "Wait",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
