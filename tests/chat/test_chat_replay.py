"""AgentRun histories (LLM steps, a read-only tool, a confirmed action, a refused call, a
continued conversation) replay without non-determinism under the current workflow code."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.chat.conftest import call, settled
from tests.chat.test_chat import start
from tests.conftest import Tenant, create_inbox
from tests.helpers.llm_server import LLMServer
from workflows.registry import ALL_WORKFLOWS


async def test_agent_run_history_replays(chat_api: httpx.AsyncClient, chat_worker: Any, tenant: Tenant,
                                         script: LLMServer, temporal_env: Any) -> None:  # fmt: skip
    inbox = await create_inbox(chat_api, tenant, local_part="chat-replay")
    script.script(
        {"tool_calls": [{"name": "list_inboxes", "arguments": {}}, {"name": "bogus", "arguments": {}}]},
        call("create_inbox", {"name": "replayed"}), {"content": "Done."}, {"content": "Bye."},
    )  # fmt: skip
    run_id = await start(chat_api, tenant, inbox["id"], "make an inbox")
    body = await settled(chat_api, tenant, run_id, status="awaiting_confirmation")
    await chat_api.post(f"/v1/chat/{run_id}/confirm", json={"action_id": body["pending_actions"][0]["id"]},
                        headers=tenant.headers)  # fmt: skip
    await settled(chat_api, tenant, run_id, status="idle")
    await chat_api.post("/v1/chat", json={"inbox_id": inbox["id"], "message": "bye", "conversation_id": run_id},
                        headers=tenant.headers)  # fmt: skip
    body = await settled(chat_api, tenant, run_id, after=8, status="idle")
    assert body["turns"][-1]["content"] == "Bye."
    history = await temporal_env.client.get_workflow_handle(f"AgentRun/{run_id}").fetch_history()
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)  # raises on non-determinism
