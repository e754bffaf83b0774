"""The Alembic migrations build exactly the schema the models declare, on both dialects."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Index, MetaData, String, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import store.models  # noqa: F401  (registers every table on the metadata)
from store.base import Base
from store.migrate import alembic_config, upgrade_url

Change = tuple[str, str | None, str | None]  # (kind, table, column/index/table name)


def _diff(conn: Connection, metadata: MetaData) -> list[Any]:
    # compare_type so a changed column type/length is caught, compare_server_default so a
    # server default present on one side only is too. With the migrations as generated
    # (JSON().with_variant(JSONB) and DateTime(timezone=True) rendered for UTCDateTime), Alembic
    # reports no spurious type differences on either dialect, so nothing is filtered out:
    # every reported difference is a real one.
    ctx = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(ctx, metadata))


def _summary(diffs: list[Any]) -> list[Change]:
    """Readable (kind, table, name) triples; column modifications arrive as nested lists."""
    out: list[Change] = []
    for d in diffs:
        if isinstance(d, list):  # [("modify_type", schema, table, column, ...), ...]
            out += [(c[0], c[2], c[3]) for c in d]
        elif d[0] in ("add_column", "remove_column"):  # (kind, schema, table, Column)
            out.append((d[0], d[2], d[3].name))
        elif d[0] in ("add_table", "remove_table"):
            out.append((d[0], d[1].name, d[1].name))
        else:  # add/remove index, constraint, fk: (kind, object)
            obj = d[1]
            table = getattr(getattr(obj, "table", None), "name", None) or getattr(
                obj, "parent", None
            )
            out.append((d[0], getattr(table, "name", table), getattr(obj, "name", None)))
    return out


def _copy_of_model_metadata() -> MetaData:
    copy = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


async def _changes(engine: AsyncEngine, metadata: MetaData) -> list[Change]:
    async with engine.connect() as conn:
        return _summary(await conn.run_sync(_diff, metadata))


async def _new_changes(engine: AsyncEngine, metadata: MetaData) -> set[Change]:
    """Differences the edited metadata adds on top of the models' own (normally none)."""
    return set(await _changes(engine, metadata)) - set(await _changes(engine, Base.metadata))


async def test_upgrade_creates_every_model_table_at_head(engine: AsyncEngine) -> None:
    def tables(conn: Connection) -> set[str]:
        return set(inspect(conn).get_table_names())

    async with engine.connect() as conn:
        present = await conn.run_sync(tables)
        version = (
            (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        )
    assert set(Base.metadata.tables) <= present
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert version == [head]


async def test_compare_metadata_reports_no_difference_after_upgrade(engine: AsyncEngine) -> None:
    changes = await _changes(engine, Base.metadata)
    assert changes == [], (
        "models and migrations disagree; write a migration (or fix the model) so that "
        f"autogenerate finds nothing: {changes}"
    )


async def test_upgrade_is_noop_when_already_at_head(migrated_url: str, engine: AsyncEngine) -> None:
    before = await _changes(engine, Base.metadata)
    await upgrade_url(migrated_url)
    assert await _changes(engine, Base.metadata) == before
    async with engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM alembic_version"))
    assert count == 1


# The guard must catch real drift: each case edits a copy of the model metadata.


async def test_compare_metadata_reports_missing_column_when_model_gains_one(
    engine: AsyncEngine,
) -> None:
    metadata = _copy_of_model_metadata()
    metadata.tables["messages"].append_column(Column("spam_score", String(10), nullable=True))
    assert await _new_changes(engine, metadata) == {("add_column", "messages", "spam_score")}


async def test_compare_metadata_reports_missing_index_when_model_gains_one(
    engine: AsyncEngine,
) -> None:
    metadata = _copy_of_model_metadata()
    Index("ix_inboxes_name", metadata.tables["inboxes"].c.name)
    assert await _new_changes(engine, metadata) == {("add_index", "inboxes", "ix_inboxes_name")}


async def test_compare_metadata_reports_missing_table_when_model_gains_one(
    engine: AsyncEngine,
) -> None:
    metadata = _copy_of_model_metadata()
    metadata.tables["departments"].to_metadata(metadata, name="teams")
    new = await _new_changes(engine, metadata)
    assert ("add_table", "teams", "teams") in new


async def test_compare_metadata_reports_changed_column_length(engine: AsyncEngine) -> None:
    metadata = _copy_of_model_metadata()
    metadata.tables["inboxes"].c.local_part.type = String(128)
    assert await _new_changes(engine, metadata) == {("modify_type", "inboxes", "local_part")}
