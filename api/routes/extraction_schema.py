"""An inbox's structured-extraction schema: `PUT/GET/DELETE /v1/inboxes/{id}/extraction-schema`.

Writes need inboxes.manage and a configured LLM (503 llm_not_configured otherwise); the schema
must be a valid Draft 2020-12 JSON Schema within size/depth/enum limits (422 naming the spot)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, delete, get, put
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from ai.extraction import schema_problems
from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import ApiError
from contracts import errors
from contracts.search import ExtractionSchemaIn, ExtractionSchemaView
from store import extraction_schemas, inboxes
from store.models import ExtractionSchema


def require_llm(state: State) -> None:
    if not state.settings.llm_model:
        raise ApiError(503, errors.LLM_NOT_CONFIGURED,
                       "no LLM is configured on this server (POSTFLOW_LLM_MODEL)")  # fmt: skip


def _view(row: ExtractionSchema) -> ExtractionSchemaView:
    return ExtractionSchemaView(inbox_id=row.inbox_id, name=row.name, description=row.description,
                                schema_=row.json_schema, enabled=row.enabled,
                                created_at=row.created_at, updated_at=row.updated_at)  # fmt: skip


class ExtractionSchemaController(Controller):
    path = "/v1/inboxes/{inbox_id:str}/extraction-schema"
    tags = ["extraction"]

    @put("/", guards=[requires("inboxes.manage")], summary="Set the inbox's extraction schema")
    async def put_schema(self, inbox_id: str, data: ExtractionSchemaIn, db: AsyncSession,
                         state: State, principal: Principal) -> Response[Any]:  # fmt: skip
        inbox = await inboxes.get_inbox(db, principal.scope, inbox_id)
        require_llm(state)
        problems = schema_problems(data.schema_)
        if problems:
            raise ApiError(422, errors.VALIDATION_ERROR, problems[0]["message"], problems)
        row, created = await extraction_schemas.put(
            db, inbox, name=data.name, description=data.description, schema=data.schema_,
            enabled=data.enabled,
        )  # fmt: skip
        audit_action(db, principal, "extraction_schema.put", resource_type="inbox", resource_id=inbox_id)
        return Response(_view(row).model_dump(mode="json", by_alias=True), status_code=201 if created else 200)

    @get("/", guards=[requires("mail.read")], summary="The inbox's extraction schema")
    async def get_schema(self, inbox_id: str, db: AsyncSession, principal: Principal) -> ExtractionSchemaView:
        await inboxes.get_inbox(db, principal.scope, inbox_id)
        return _view(await extraction_schemas.get(db, principal.scope, inbox_id))

    @delete("/", guards=[requires("inboxes.manage")], summary="Remove the inbox's extraction schema")
    async def delete_schema(self, inbox_id: str, db: AsyncSession, principal: Principal) -> None:
        await inboxes.get_inbox(db, principal.scope, inbox_id)
        await extraction_schemas.remove(db, principal.scope, inbox_id)
        audit_action(db, principal, "extraction_schema.delete", resource_type="inbox", resource_id=inbox_id)
