"""SMTP ingress: accept mail for local inboxes, store it durably, hand it to workflows."""
