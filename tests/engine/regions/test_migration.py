"""Migration 0008_regions on a database that already has cases and tasks (SQLite and PostgreSQL).

Tasks from before regions belong to the default division (``ONETHING_DEFAULT_DIVISION``,
else 310000), where every department has its office, so their queues do not change; the
column is NOT NULL with no default left behind, so a task that routing forgot to place is
refused instead of silently landing somewhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Connection, MetaData, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from engine.bpmn.runtime import TaskKind
from engine.cases.states import OPEN_WORK_STATES
from engine.storage.db import MIGRATIONS_DIR, Database, alembic_config
from engine.storage.models import OPEN_QUEUE_WHERE

AT = datetime(2025, 3, 3, 1, 0, tzinfo=UTC).replace(tzinfo=None)


def _upgrade(db: Database, revision: str) -> None:
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _old_rows(connection: Connection, tasks: int) -> None:
    """A deployment, a case and ``tasks`` work items written by the schema of 0007_outbox."""
    tables = MetaData()
    tables.reflect(connection, only=["deployments", "cases", "work_items"])
    connection.execute(
        insert(tables.tables["deployments"]).values(
            id=1,
            key="k",
            version=1,
            digest="d" * 64,
            manifest={},
            files={},
            created_at=AT,
            created_by="system",
        )
    )
    connection.execute(
        insert(tables.tables["cases"]).values(
            id=1, deployment_id=1, bundle_key="k", version=1, applicant="a", status="in_progress", data={},
            materials={}, pending_materials={}, outputs={}, round=1, state="{}", state_version=1,
            created_at=AT, updated_at=AT,
        )
    )  # fmt: skip
    connection.execute(
        insert(tables.tables["work_items"]),
        [
            {
                "case_id": 1, "deployment_id": 1, "bundle_key": "k", "item_key": f"i{n}", "task_name": "t",
                "spiff_id": f"{n:036d}", "department": "market-regulation", "state": "ready", "round": 1,
                "created_at": AT, "decision": {}, "comment": "", "problems": [], "overdue": False,
                "manual_reason": "",
            }
            for n in range(tasks)
        ],
    )  # fmt: skip


@pytest.mark.parametrize("configured", [None, "330100"])
def test_existing_tasks_get_the_default_division(
    db_url: str, monkeypatch: pytest.MonkeyPatch, configured: str | None
) -> None:
    if configured is None:
        monkeypatch.delenv("ONETHING_DEFAULT_DIVISION", raising=False)
    else:
        monkeypatch.setenv("ONETHING_DEFAULT_DIVISION", configured)
    db = Database(db_url)
    _upgrade(db, "0007_outbox")
    with db.engine.begin() as connection:
        _old_rows(connection, 3)
    _upgrade(db, "0008_regions")
    with db.engine.connect() as connection:
        divisions = connection.execute(text("SELECT division FROM work_items ORDER BY id")).scalars().all()
        case = connection.execute(text("SELECT division, received_division FROM cases")).one()
        kept = connection.execute(
            text("SELECT count(*) FROM work_items WHERE department = 'market-regulation'")
        )
        assert kept.scalar_one() == 3
    assert divisions == [configured or "310000"] * 3
    assert tuple(case) == (None, None)

    schema = inspect(db.engine)
    column = next(c for c in schema.get_columns("work_items") if c["name"] == "division")
    assert column["nullable"] is False and column["default"] is None
    indexes = {i["name"]: i["column_names"] for i in schema.get_indexes("work_items")}
    assert indexes["ix_work_items_office"] == ["department", "division", "state", "due_at", "id"]
    assert indexes["ix_work_items_office_open"] == ["department", "division", "due_at", "id"]
    assert "ix_work_items_queue" in indexes
    assert {"divisions", "offices"} <= set(schema.get_table_names())
    assert "division" in {c["name"] for c in schema.get_columns("accounts")}
    assert {"division", "base_id"} <= {c["name"] for c in schema.get_columns("deployments")}

    with pytest.raises(IntegrityError), db.engine.begin() as connection:  # routing must place every task
        _old_rows_without_division(connection)
    db.dispose()


def _old_rows_without_division(connection: Connection) -> None:
    tables = MetaData()
    tables.reflect(connection, only=["work_items"])
    row = connection.execute(select(tables.tables["work_items"]).limit(1)).mappings().one()
    values = {k: v for k, v in row.items() if k not in ("id", "division")}
    connection.execute(insert(tables.tables["work_items"]).values(**values))


def test_a_bad_configured_default_stops_the_migration(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONETHING_DEFAULT_DIVISION", "31'; DROP TABLE cases; --")
    db = Database(db_url)
    _upgrade(db, "0007_outbox")
    with pytest.raises(ValueError, match="6, 9 or 12 digit"):
        _upgrade(db, "0008_regions")
    assert "cases" in inspect(db.engine).get_table_names()
    db.dispose()


def test_downgrade_removes_what_0008_added(db_url: str) -> None:
    db = Database(db_url)
    _upgrade(db, "0008_regions")
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_outbox")
    schema = inspect(db.engine)
    assert not {"divisions", "offices"} & set(schema.get_table_names())
    assert "division" not in {c["name"] for c in schema.get_columns("work_items")}
    db.dispose()


def test_the_open_queue_index_holds_exactly_the_rows_a_queue_lists() -> None:
    """``ix_work_items_office_open`` must follow the queue's states, or queues would miss it."""
    states = ", ".join(f"'{state.value}'" for state in OPEN_WORK_STATES)
    assert f"kind = '{TaskKind.HUMAN.value}' AND state IN ({states})" == OPEN_QUEUE_WHERE
    migration = (MIGRATIONS_DIR / "versions" / "0008_regions.py").read_text(encoding="utf-8")
    assert f'OPEN_QUEUE_WHERE = "{OPEN_QUEUE_WHERE}"' in migration
