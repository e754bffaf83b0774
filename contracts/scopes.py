"""API key scopes: the names, what `admin` implies, and the scope check itself."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "mail.read": "Read inboxes, threads, messages and attachments; wait for mail",
    "mail.manage": "Mark mail read/starred/archived and delete it",
    "mail.send": "Send, reply, forward and schedule mail",
    "mail.approve": "Approve or reject outbound mail waiting for approval (never one's own)",
    "inboxes.manage": "Create, update and delete inboxes",
    "domains.manage": "Add and verify domains",
    "delivery.manage": "Manage the suppression list and the send/receive allow and block lists",
    "webhooks.manage": "Manage webhook endpoints",
    "rules.manage": "Manage rules and automations",
    "knowledge.manage": "Manage the knowledge base",
    "agent.run": "Use the agent chat",
    "agent.auto_approve": "Let the agent chat act without confirmation on inboxes set to auto-approve",
    "mcp.access": "Connect over MCP",
    "analytics.read": "Read delivery metrics and the audit log",
    "keys.manage": "Create, rotate and revoke API keys",
    "admin": "Everything in the organization (implies every other scope)",
}


def has_scope(granted: list[str] | tuple[str, ...] | frozenset[str], needed: str) -> bool:
    return "admin" in granted or needed in granted


def unknown_scopes(requested: list[str]) -> list[str]:
    return [s for s in requested if s not in SCOPES]
