"""The schema comes from migrations on both backends, and timestamps stay UTC-aware."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from engine.storage.db import Database
from engine.storage.models import CaseEvent, Deployment
from engine.tables import metadata


def test_upgrade_creates_every_table_and_timestamps_round_trip_in_utc(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()
    db.upgrade()  # a second start on a current database changes nothing
    tables = set(inspect(db.engine).get_table_names())
    assert {"accounts", "deployments", "cases", "work_items", "case_events", "materials"} <= tables
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with db.write() as s:
        s.add(
            Deployment(key="k", version=1, digest="d" * 64, manifest={"名": "企业"}, files={}, created_at=at)
        )
    with db.read() as s:
        row = s.scalars(select(Deployment)).one()
        assert row.created_at == at and row.created_at.tzinfo is not None
        assert row.manifest == {"名": "企业"}
        assert s.scalars(select(CaseEvent)).all() == []
    db.dispose()


def test_migrations_build_exactly_the_schema_the_models_declare(db_url: str) -> None:
    """A table or column added to a model without a migration (or the reverse) fails here."""
    db = Database(db_url)
    db.upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        drift = compare_metadata(context, metadata)
    db.dispose()
    assert drift == [], drift
