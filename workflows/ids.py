"""The only place workflow ids are built: `{Kind}/{resource id}`, deterministic, so a retried
API call or ingress hand-off can never start a duplicate."""

from __future__ import annotations


def inbound(message_id: str) -> str:
    return f"InboundMail/{message_id}"


def wait(wait_id: str) -> str:
    return f"WaitForMail/{wait_id}"


def webhook_delivery(delivery_id: str) -> str:
    return f"WebhookDelivery/{delivery_id}"


def outbound(message_id: str) -> str:
    return f"OutboundMail/{message_id}"


def follow_up(sequence_id: str) -> str:
    return f"FollowUp/{sequence_id}"


def agent_run(run_id: str) -> str:
    return f"AgentRun/{run_id}"
