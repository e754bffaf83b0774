"""Outbound mail: composing (compose.py), transports (transport.py) and, from deliverability,
policy, rate limits and DKIM signing."""
