"""Inbound performance benchmarks: `python -m bench [accept|pipeline|otp ...]`.

Each benchmark starts its own real components on 127.0.0.1 (a fresh PostgreSQL database, the
Temporal dev server, Postflow's processes, a local DNS server), measures a baseline in the same
run, and removes everything it started. Benchmarks are not tests: they never fail on a missed
goal, only on errors.
"""
