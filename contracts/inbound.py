"""Payloads of the inbound mail pipeline."""

from __future__ import annotations

from pydantic import BaseModel


class InboundMailInput(BaseModel):
    message_id: str


class ParseMessageResult(BaseModel):
    message_id: str
    attachment_count: int
    defects: list[str]


class InboundMailResult(BaseModel):
    message_id: str
    state: str


class SetPipelineStateInput(BaseModel):
    message_id: str
    state: str
    workflow_id: str | None = None
