"""A local OpenAI-compatible HTTP server with scripted answers: the stand-in for a third-party
LLM. litellm talks to it over real HTTP (`openai/<model>` with `api_base=server.base_url`).

    with LLMServer() as llm:
        llm.script({"content": "a summary"})                       # one chat answer
        llm.script({"tool_calls": [{"name": "search_mail", "arguments": {"q": "x"}}]})
        llm.script(lambda body: {"content": json.dumps({...})})    # computed from the request
        ... llm.requests                                           # every request body seen

Answers are consumed in order; when the queue is empty the `default` answer is used (None →
HTTP 500 with an OpenAI-style error, so a test notices an unexpected call). `fail(status)`
queues an HTTP error answer. `/v1/embeddings` answers deterministic 8-dimensional vectors.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


class LLMServer:
    def __init__(self, default: Answer | None = None) -> None:
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[Answer | tuple[str, int]] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="llm-server")  # fmt: skip

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> LLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._queue.extend(answers)

    def fail(self, status: int = 500) -> None:
        with self._lock:
            self._queue.append(("error", status))

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- request handling -------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> dict[str, Any] | tuple[str, int] | None:
        with self._lock:
            self.requests.append(body)
            answer: Answer | tuple[str, int] | None = (
                self._queue.popleft() if self._queue else self.default
            )
        if answer is None or isinstance(answer, tuple):
            return answer
        return answer(body) if callable(answer) else answer

    def _completion(self, body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": answer.get("content")}
        finish = "stop"
        if answer.get("tool_calls"):
            finish = "tool_calls"
            message["tool_calls"] = [
                {
                    "id": call.get("id") or f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {
                        "name": call["name"],
                        "arguments": call["arguments"]
                        if isinstance(call["arguments"], str)
                        else json.dumps(call["arguments"]),
                    },
                }
                for call in answer["tool_calls"]
            ]
        prompt_tokens = sum(len(str(m.get("content") or "")) // 4 for m in body.get("messages", []))
        completion_tokens = answer.get("completion_tokens", 10)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    @staticmethod
    def _embedding(text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [b / 255.0 for b in digest[:8]]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "scripted"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "invalid JSON"}})
                    return
                if self.path.endswith("/embeddings"):
                    inputs = body.get("input")
                    texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
                    self._send(200, {
                        "object": "list", "model": body.get("model", "scripted"),
                        "data": [{"object": "embedding", "index": i,
                                  "embedding": server._embedding(str(t))}
                                 for i, t in enumerate(texts)],
                        "usage": {"prompt_tokens": 0, "total_tokens": 0},
                    })  # fmt: skip
                    return
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                answer = server._next(body)
                if answer is None:
                    self._send(500, {"error": {"message": "no scripted answer left",
                                               "type": "server_error"}})  # fmt: skip
                elif isinstance(answer, tuple):
                    self._send(answer[1], {"error": {"message": "scripted failure",
                                                     "type": "server_error"}})  # fmt: skip
                else:
                    self._send(200, server._completion(body, answer))

        return Handler
