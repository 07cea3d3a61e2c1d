"""time limits, escalation, feedback and analytics aggregates

Tables: escalations (department alerts and supervisor queues, scheduled by the SLA clock),
ratings, rectifications, complaints, and the analytics aggregates task_stats, case_stats,
period_stats, rating_stats (see engine/deadlines/supervision.py, engine/feedback/rows.py, engine/analytics/rows.py).

Revision ID: 0002_feedback
Revises: 0001_core
Create Date: 2026-11-23 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from engine.storage.models import UtcDateTime

revision: str = "0002_feedback"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
    )


def _big(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=nullable)


def _json(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "escalations",
        _id(),
        sa.Column("subject", sa.String(length=16), nullable=False),
        _big("subject_id"),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        _big("case_id", nullable=True),
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fire_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=True),
        sa.Column("due_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _json("detail"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "subject_id", "level", name="uq_escalations_subject_level"),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index("ix_escalations_fire", ["state", "fire_at"], unique=False)
        batch_op.create_index(
            "ix_escalations_queue", ["audience", "department", "state", "opened_at"], unique=False
        )
        batch_op.create_index("ix_escalations_case", ["case_id"], unique=False)

    op.create_table(
        "ratings",
        _id(),
        _big("case_id"),
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("applicant", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("responsible_department", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "department", name="uq_ratings_case_department"),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_bundle", ["bundle_key", "version", "department"], unique=False)

    op.create_table(
        "rectifications",
        _id(),
        _big("case_id"),
        _big("rating_id"),
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("replied_by", sa.String(length=64), nullable=False),
        sa.Column("replied_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["rating_id"], ["ratings.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rectifications", schema=None) as batch_op:
        batch_op.create_index("ix_rectifications_queue", ["department", "state", "due_at"], unique=False)
        batch_op.create_index("ix_rectifications_case", ["case_id"], unique=False)
        batch_op.create_index("ix_rectifications_due", ["state", "overdue", "due_at"], unique=False)

    op.create_table(
        "complaints",
        _id(),
        _big("case_id", nullable=True),
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("complainant", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("replied_by", sa.String(length=64), nullable=False),
        sa.Column("replied_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_complainant", ["complainant", "id"], unique=False)
        batch_op.create_index("ix_complaints_queue", ["department", "state", "id"], unique=False)

    op.create_table(
        "task_stats",
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("task_name", sa.String(length=128), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("wait_sum", sa.Float(), nullable=False),
        sa.Column("work_sum", sa.Float(), nullable=False),
        _json("wait_sketch"),
        _json("work_sketch"),
        _json("problems"),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_key", "version", "item_key", "department"),
    )
    op.create_table(
        "case_stats",
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("working_sum", sa.Float(), nullable=False),
        sa.Column("steps_sum", sa.Integer(), nullable=False),
        sa.Column("materials_sum", sa.Integer(), nullable=False),
        _json("duration_sketch"),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_key", "version"),
    )
    op.create_table(
        "period_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("tasks_completed", sa.Integer(), nullable=False),
        sa.Column("tasks_overdue", sa.Integer(), nullable=False),
        sa.Column("tasks_returned", sa.Integer(), nullable=False),
        sa.Column("went_overdue", sa.Integer(), nullable=False),
        sa.Column("wait_sum", sa.Float(), nullable=False),
        sa.Column("work_sum", sa.Float(), nullable=False),
        sa.Column("cases_completed", sa.Integer(), nullable=False),
        sa.Column("case_working_sum", sa.Float(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("ratings_bad", sa.Integer(), nullable=False),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "bundle_key", "department"),
    )
    with op.batch_alter_table("period_stats", schema=None) as batch_op:
        batch_op.create_index("ix_period_stats_bundle", ["bundle_key", "day"], unique=False)
    op.create_table(
        "rating_stats",
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("s1", sa.Integer(), nullable=False),
        sa.Column("s2", sa.Integer(), nullable=False),
        sa.Column("s3", sa.Integer(), nullable=False),
        sa.Column("s4", sa.Integer(), nullable=False),
        sa.Column("s5", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_key", "version", "department"),
    )


def downgrade() -> None:
    op.drop_table("rating_stats")
    with op.batch_alter_table("period_stats", schema=None) as batch_op:
        batch_op.drop_index("ix_period_stats_bundle")
    op.drop_table("period_stats")
    op.drop_table("case_stats")
    op.drop_table("task_stats")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_queue")
        batch_op.drop_index("ix_complaints_complainant")
    op.drop_table("complaints")
    with op.batch_alter_table("rectifications", schema=None) as batch_op:
        batch_op.drop_index("ix_rectifications_due")
        batch_op.drop_index("ix_rectifications_case")
        batch_op.drop_index("ix_rectifications_queue")
    op.drop_table("rectifications")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_bundle")
    op.drop_table("ratings")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index("ix_escalations_case")
        batch_op.drop_index("ix_escalations_queue")
        batch_op.drop_index("ix_escalations_fire")
    op.drop_table("escalations")
