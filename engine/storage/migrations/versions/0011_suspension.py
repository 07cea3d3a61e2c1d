"""Suspension (挂起/恢复) of running cases: the ``case_suspensions`` history table.

Case ``status`` gains the value ``suspended`` (a string column: no schema change there).

Revision ID: 0011_suspension
Revises: 0010_portal
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.storage.models import UtcDateTime

revision: str = "0011_suspension"
down_revision: str | Sequence[str] | None = "0010_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_suspensions",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", BIG_ID, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("suspended_at", UtcDateTime(), nullable=False),
        sa.Column("suspended_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("resumed_at", UtcDateTime(), nullable=True),
        sa.Column("resumed_by", sa.String(64), nullable=True),
        sa.Column("resume_note", sa.Text(), nullable=False),
        sa.Column("working_seconds", sa.Float(), nullable=False),
    )
    op.create_index("ix_case_suspensions_case", "case_suspensions", ["case_id", "id"])


def downgrade() -> None:
    # A case still suspended runs again: the status value would mean nothing without the table.
    op.execute("UPDATE cases SET status = 'running' WHERE status = 'suspended'")
    op.drop_index("ix_case_suspensions_case", table_name="case_suspensions")
    op.drop_table("case_suspensions")
