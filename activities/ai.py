"""AI steps of the inbound pipeline: `screen` (deterministic prompt-injection detectors, every
message, no LLM) and `enrich` (summary, LLM injection check, structured extraction — only
when an LLM is configured). Results land in `messages.analysis`; `enrich` records a step's
final failure there instead of failing the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import activity

from contracts.search import AiResult, MessageRef

if TYPE_CHECKING:
    from activities.deps import ActivityDeps

# enrich's attempts (the workflow's retry policy allows this many); the last records failures.
ENRICH_ATTEMPTS = 3


def _body(msg: Any) -> str:
    from search.indexer import message_body

    return message_body(msg)


class AiActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    async def _update(self, message_id: str, **values: Any) -> bool:
        from store import messages
        from store.errors import NotFound

        async with self.deps.sessionmaker.begin() as session:
            try:
                msg = await messages.get_for_pipeline(session, message_id)
            except NotFound:
                return False
            msg.analysis = {**(msg.analysis or {}), **values}
        return True

    @activity.defn(name="ai.screen")
    async def screen(self, ref: MessageRef) -> AiResult:
        import asyncio

        from ai.injection import screen
        from store import messages
        from store.errors import NotFound

        async with self.deps.sessionmaker() as session:
            try:
                msg = await messages.get_for_pipeline(session, ref.message_id)
            except NotFound:
                return AiResult(message_id=ref.message_id)
            subject, text, html = msg.subject or "", msg.text or "", msg.html
        verdict = await asyncio.to_thread(screen, subject, text, html)
        await self._update(ref.message_id, prompt_injection=verdict.as_dict())
        return AiResult(message_id=ref.message_id, steps=["screen"])

    @activity.defn(name="ai.enrich")
    async def enrich(self, ref: MessageRef) -> AiResult:
        from ai.llm import configured

        if not configured(self.deps.settings):
            return AiResult(message_id=ref.message_id)
        from store import extraction_schemas, messages
        from store.errors import NotFound

        async with self.deps.sessionmaker() as session:
            try:
                msg = await messages.get_for_pipeline(session, ref.message_id)
            except NotFound:
                return AiResult(message_id=ref.message_id)
            if msg.direction != "inbound":
                return AiResult(message_id=ref.message_id)
            done = dict(msg.analysis or {})
            schema = await extraction_schemas.enabled_for_inbox(session, msg.inbox_id)
            schema_args = (
                {"name": schema.name, "description": schema.description, "schema": schema.json_schema}
                if schema is not None else None
            )  # fmt: skip
            email = {"subject": msg.subject or "", "sender": f"{msg.from_name} <{msg.from_address}>",
                     "body": _body(msg)}  # fmt: skip
            html = msg.html
        last_attempt = activity.info().attempt >= ENRICH_ATTEMPTS
        steps: list[str] = []
        # Each step is stored as soon as it is done, so a retry redoes only what failed.
        if "summary" not in done:
            await self._step(ref.message_id, "summary", self._summary(email), last_attempt)
            steps.append("summary")
        if not (done.get("prompt_injection") or {}).get("llm_checked"):
            await self._step(ref.message_id, "prompt_injection",
                             self._injection(email, html, done.get("prompt_injection")), last_attempt)  # fmt: skip
            steps.append("llm_screen")
        if schema_args is not None and "extracted_data" not in done and "extraction_error" not in done:
            await self._step(ref.message_id, "extraction", self._extract(email, schema_args), last_attempt)
            steps.append("extraction")
        return AiResult(message_id=ref.message_id, steps=steps)

    async def _step(self, message_id: str, name: str, work: Any, last_attempt: bool) -> None:
        try:
            values = await work
        except Exception as exc:
            if not last_attempt:
                raise
            activity.logger.warning("AI step %s failed for %s: %s", name, message_id, exc)
            error = f"{type(exc).__name__}: {str(exc)[:500]}"
            values = {"extraction_error": f"LLM call failed: {error}"} if name == "extraction" else {
                f"{name}_error": error}  # fmt: skip
        await self._update(message_id, **values)

    async def _summary(self, email: dict[str, str]) -> dict[str, Any]:
        from ai.summary import summarize

        return {"summary": await summarize(self.deps.settings, **email), "summary_error": None}

    async def _injection(self, email: dict[str, str], html: str | None, current: Any) -> dict[str, Any]:
        from ai.injection import Assessment, combine, hidden_html_text, screen
        from ai.summary import assess_injection

        if isinstance(current, dict):
            base = Assessment(score=float(current.get("score", 0)), reasons=list(current.get("reasons", [])))
        else:
            base = screen(email["subject"], email["body"], html)
        hidden = hidden_html_text(html) if html else ""
        score, reasons = await assess_injection(self.deps.settings, hidden=hidden, **email)
        return {"prompt_injection": combine(base, score, reasons).as_dict()}

    async def _extract(self, email: dict[str, str], schema: dict[str, Any]) -> dict[str, Any]:
        from ai.extraction import extract

        data, error = await extract(self.deps.settings, **schema, **email)
        return {"extracted_data": data, "extraction_error": error}
