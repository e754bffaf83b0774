"""Every workflow the worker hosts (and the replayer replays)."""

from __future__ import annotations

from workflows.inbound_mail import InboundMailWorkflow
from workflows.wait_for_mail import WaitForMailWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

ALL_WORKFLOWS: list[type] = [InboundMailWorkflow, WaitForMailWorkflow, WebhookDeliveryWorkflow]
