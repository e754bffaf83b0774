"""ORM models, one module per aggregate; importing this package registers them all."""

from store.models.audit import AuditEntry
from store.models.event import Event
from store.models.inbox import Domain, Inbox
from store.models.message import Attachment, Message, Thread
from store.models.organization import ApiKey, Department, Organization, User
from store.models.wait import Wait
from store.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Attachment",
    "AuditEntry",
    "Department",
    "Domain",
    "Event",
    "Inbox",
    "Message",
    "Organization",
    "Thread",
    "User",
    "Wait",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
