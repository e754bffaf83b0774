"""Polling until a condition holds, for effects that land asynchronously (after a 250, a signal)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.05
) -> T:
    """Call `probe` until it returns a truthy value without raising; return that value."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = await probe()
            if value:
                return value
        except AssertionError as exc:
            last_exc = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s") from last_exc
        await asyncio.sleep(interval)
