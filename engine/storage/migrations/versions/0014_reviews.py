"""Material pre-review (智能预审): the ``material_reviews`` table, one row per material.

Revision ID: 0014_reviews
Revises: 0013_merge
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.storage.models import JsonType, UtcDateTime

revision: str = "0014_reviews"
down_revision: str | Sequence[str] | None = "0013_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "material_reviews",
        sa.Column(
            "material_id",
            sa.String(64),
            sa.ForeignKey("materials.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fields", JsonType, nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("findings", JsonType, nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("queued_at", UtcDateTime(), nullable=False),
        sa.Column("claimed_at", UtcDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", UtcDateTime(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_index("ix_material_reviews_status", "material_reviews", ["status", "claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_material_reviews_status", table_name="material_reviews")
    op.drop_table("material_reviews")
