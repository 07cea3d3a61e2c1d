"""Tables of version migration: plans, runs, and each case's state within a run.

A plan (``migration_plans``) says how running cases of one bundle move from version N to
N+M: the task map (old element id -> new element id, with explicit permission to move a
task to another department's item), field changes and what happens to running timers and
due times. A run (``migration_runs``) executes a plan on the cases a filter picks; it lists
them first, one row each in ``migration_run_cases`` (pending), and each case's row turns
migrated, failed (with the reason) or skipped in the same transaction that moves (or
refuses) the case, so a crash leaves every case wholly on one version and resuming picks
up the pending rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base, BigId, UtcDateTime, utcnow


class MigrationPlan(Base):
    """How the running cases of a bundle move from one version to another."""

    __tablename__ = "migration_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bundle_key: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    # [{"from": element, "to": element, "cross_department": bool}]; unlisted: same id, else SpecDiff's.
    tasks: Mapped[list[Any]] = mapped_column(default=list)
    # [{"field", "action": rename|drop|default, "to", "value"}]
    fields: Mapped[list[Any]] = mapped_column(default=list)
    # {"default": keep|recompute, "elements": {element: keep|recompute}, "release_claims": bool}
    timers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(64))
    division: Mapped[str | None] = mapped_column(String(12), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MigrationRun(Base):
    """One execution of a plan on the cases its filter picked."""

    __tablename__ = "migration_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("migration_plans.id"))
    # {"statuses": [...], "division": code | None, "case_ids": [...] | None}
    filter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    batch_size: Mapped[int] = mapped_column(Integer, default=100)
    status: Mapped[str] = mapped_column(String(16), default="running")
    created_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class MigrationRunCase(Base):
    """One case in a run: pending until its own transaction migrates, fails or skips it."""

    __tablename__ = "migration_run_cases"
    __table_args__ = (
        UniqueConstraint("run_id", "case_id", name="uq_migration_run_cases_run_case"),
        Index("ix_migration_run_cases_run_state", "run_id", "state", "case_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("migration_runs.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    moved: Mapped[list[Any]] = mapped_column(default=list)
    at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
