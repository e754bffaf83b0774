"""Baseline for `accept`: a bare aiosmtpd server whose DATA handler inserts the message into a
PostgreSQL table with one commit (psycopg async, pool of 8), as PERFORMANCE.md measured it.

Run as a subprocess: `python -m bench.baseline_smtp --port P --dsn postgresql://...`. It uses
the same aiosmtpd protocol settings and plain asyncio loop as Postflow's ingress.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiosmtpd.smtp import SMTP, Envelope, Session
from psycopg_pool import AsyncConnectionPool

TABLE = "bench_inbound"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, mail_from text NOT NULL, "
    "rcpt_to text NOT NULL, raw bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"
)


class InsertHandler:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        try:
            # The pool's connection() block is one transaction, committed on exit.
            async with self.pool.connection() as conn:
                await conn.execute(
                    f"INSERT INTO {TABLE} (mail_from, rcpt_to, raw) VALUES (%s, %s, %s)",  # noqa: S608
                    (
                        envelope.mail_from or "",
                        ",".join(envelope.rcpt_tos),
                        envelope.original_content or b"",
                    ),
                )
        except Exception:
            return "451 4.3.0 storage failed"
        return "250 2.0.0 OK stored"


async def main(port: int, dsn: str) -> None:
    pool = AsyncConnectionPool(dsn, min_size=8, max_size=8, open=False)
    await pool.open(wait=True, timeout=30)
    async with pool.connection() as conn:
        await conn.execute(CREATE_TABLE)
    handler = InsertHandler(pool)
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=25 * 1024 * 1024,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="baseline.local",
            ident="baseline",
            loop=loop,
        )

    server = await loop.create_server(factory, host="127.0.0.1", port=port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    ns = parser.parse_args()
    asyncio.run(main(ns.port, ns.dsn))
