"""Every workflow the worker hosts (and the replayer replays)."""

from __future__ import annotations

from workflows.agent_run import AgentRunWorkflow
from workflows.follow_up import FollowUpWorkflow
from workflows.inbound_mail import InboundMailWorkflow
from workflows.outbound_mail import OutboundMailWorkflow
from workflows.wait_for_mail import WaitForMailWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

ALL_WORKFLOWS: list[type] = [InboundMailWorkflow, WaitForMailWorkflow, WebhookDeliveryWorkflow,
                             OutboundMailWorkflow, AgentRunWorkflow, FollowUpWorkflow]
