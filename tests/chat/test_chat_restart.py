"""A run waiting for confirmation survives its worker: stop the worker, start a new one,
confirm, and the action runs and the run completes its turn."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.chat.conftest import call, llm_settings, settled
from tests.chat.test_chat import delivered, labels_of, start
from tests.conftest import Tenant, create_inbox
from tests.helpers.http_server import serve
from tests.helpers.llm_server import LLMServer


async def test_chat_worker_restart_while_waiting_for_confirmation(
    settings: Settings, temporal_env: WorkflowEnvironment, api: httpx.AsyncClient, worker: Any,
    ingress: Any, tenant: Tenant, script: LLMServer,
) -> None:  # fmt: skip
    from activities.deps import ActivityDeps
    from api.app import create_app
    from worker import build_worker

    own = llm_settings(settings, script)  # a task queue only this test's workers poll
    inbox = await create_inbox(api, tenant, local_part="chat-restart")
    msg_id = await delivered(api, tenant, ingress, inbox)
    script.script(call("label_message", {"message_id": msg_id, "add_labels": ["urgent"]}), {"content": "Done."})
    with serve(create_app(own)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as chat_api:
            deps = ActivityDeps.build(own)
            async with build_worker(temporal_env.client, own, deps):
                run_id = await start(chat_api, tenant, inbox["id"], "mark it urgent")
                body = await settled(chat_api, tenant, run_id, status="awaiting_confirmation")
            await deps.close()  # the first worker is gone; the run waits in Temporal alone

            deps = ActivityDeps.build(own)
            async with build_worker(temporal_env.client, own, deps):
                action_id = body["pending_actions"][0]["id"]
                r = await chat_api.post(f"/v1/chat/{run_id}/confirm", json={"action_id": action_id},
                                        headers=tenant.headers)  # fmt: skip
                assert r.status_code == 200, r.text
                body = await settled(chat_api, tenant, run_id, status="idle")
            await deps.close()
    assert body["actions"][0]["status"] == "executed" and body["turns"][-1]["content"] == "Done."
    assert "urgent" in await labels_of(api, tenant, msg_id)
