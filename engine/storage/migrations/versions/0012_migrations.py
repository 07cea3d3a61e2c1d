"""Version migration of running cases: plans, runs and each case's state in a run.

- ``migration_plans`` (new): how cases of a bundle move from one version to another.
- ``migration_runs`` (new): one execution of a plan on the cases its filter picked.
- ``migration_run_cases`` (new): each picked case, pending until its own transaction
  migrates, fails or skips it (so a run resumes after a crash).

Revision ID: 0012_migrations
Revises: 0010_portal
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from engine.storage.models import UtcDateTime

revision: str = "0012_migrations"
down_revision: str | Sequence[str] | None = "0010_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "migration_plans",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("bundle_key", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("tasks", JSON, nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("timers", JSON, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("division", sa.String(12), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "migration_runs",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("plan_id", BIG_ID, sa.ForeignKey("migration_plans.id"), nullable=False),
        sa.Column("filter", JSON, nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "migration_run_cases",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", BIG_ID, sa.ForeignKey("migration_runs.id"), nullable=False),
        sa.Column("case_id", BIG_ID, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("moved", JSON, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("run_id", "case_id", name="uq_migration_run_cases_run_case"),
    )
    op.create_index("ix_migration_run_cases_run_state", "migration_run_cases", ["run_id", "state", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_migration_run_cases_run_state", table_name="migration_run_cases")
    op.drop_table("migration_run_cases")
    op.drop_table("migration_runs")
    op.drop_table("migration_plans")
