"""Baselines on the bare Temporal stack, and their worker: a trivial workflow with one
(regular) activity (for `pipeline`), and a workflow woken by a signal while a client is
blocked in its update (for `otp`, PERFORMANCE.md's wake-up reference).

The worker runs in its own process like Postflow's (`python -m bench.trivial --address A
--task-queue Q`), with the same data converter and the default workflow sandbox, so the
baseline measures what the Temporal dev server and one Python worker can do on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench.touch")
async def touch(n: int) -> int:
    return n + 1


@workflow.defn(name="BenchTrivial")
class TrivialWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(
            touch, n, start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn(name="BenchWake")
class WakeWorkflow:
    def __init__(self) -> None:
        self._woken = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._woken)
        await workflow.wait_condition(workflow.all_handlers_finished)

    @workflow.signal(name="wake")
    def wake(self) -> None:
        self._woken = True

    @workflow.update(name="result")
    async def result(self) -> str:
        await workflow.wait_condition(lambda: self._woken)
        return "woken"


async def main(address: str, task_queue: str) -> None:
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    client = await Client.connect(address, data_converter=pydantic_data_converter)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[TrivialWorkflow, WakeWorkflow],
        activities=[touch],
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    ns = parser.parse_args()
    asyncio.run(main(ns.address, ns.task_queue))
