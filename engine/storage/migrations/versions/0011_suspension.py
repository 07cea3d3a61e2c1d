"""Suspension (挂起/恢复) of running cases: the ``case_suspensions`` history table.

Case ``status`` gains the value ``suspended`` (a string column: no schema change there);
``cases`` gains ``suspended_seconds`` (the working time its finished suspensions stopped the
clocks, 0 for every existing case).

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
    op.add_column("cases", sa.Column("suspended_seconds", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    # A case still suspended runs again: the status value would mean nothing without the table.
    op.execute("UPDATE cases SET status = 'running' WHERE status = 'suspended'")
    # In place (no batch copy): ``cases`` is referenced by foreign keys (as 0010_portal does).
    op.drop_column("cases", "suspended_seconds")
    op.drop_index("ix_case_suspensions_case", table_name="case_suspensions")
    op.drop_table("case_suspensions")
