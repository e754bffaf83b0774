"""Every workflow the worker hosts (and the replayer replays)."""

from __future__ import annotations

from workflows.inbound_mail import InboundMailWorkflow

ALL_WORKFLOWS: list[type] = [InboundMailWorkflow]
