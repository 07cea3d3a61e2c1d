"""The portal: drafts, the message centre, certificate numbers and revocation, bundle review.

- ``application_drafts`` (new): one unsent application per applicant and bundle.
- ``notifications`` (new): the message centre, one row per recipient account.
- ``materials`` gains ``number`` (an issued certificate's number, unique, for its public
  verification page) and ``revoked_at``/``revoked_by``/``revoked_reason``. Certificates
  issued before keep ``number`` NULL; their number is derived from the case and kind.
- ``deployments`` gains the four-eyes review of a version: ``status`` (draft, in_review,
  published, withdrawn; every existing version is published), ``submitted_by``,
  ``reviewed_by``, ``reviewed_at`` and ``review_note``.

Revision ID: 0010_portal
Revises: 0009_analytics_divisions
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from engine.storage.models import UtcDateTime

revision: str = "0010_portal"
down_revision: str | Sequence[str] | None = "0009_analytics_divisions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "application_drafts",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("applicant", sa.String(64), nullable=False),
        sa.Column("bundle_key", sa.String(64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("materials", JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("applicant", "bundle_key", name="uq_application_drafts_applicant_bundle"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=True),
        sa.Column("work_item_id", BIG_ID, nullable=True),
        sa.Column("title", JSON, nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("link", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("read_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_notifications_recipient", "notifications", ["recipient", "read_at", "id"])
    with op.batch_alter_table("materials") as batch:
        batch.add_column(sa.Column("number", sa.String(40), nullable=True))
        batch.add_column(sa.Column("revoked_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("revoked_reason", sa.Text(), nullable=True))
        batch.create_index("ix_materials_number", ["number"], unique=True)
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="published"))
        batch.add_column(sa.Column("submitted_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reviewed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("review_note", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch: a batch recreates the
    # table, and dropping ``deployments`` fails while cases reference it (foreign keys on).
    for column in ("review_note", "reviewed_at", "reviewed_by", "submitted_by", "status"):
        op.drop_column("deployments", column)
    op.drop_index("ix_materials_number", table_name="materials")
    for column in ("revoked_reason", "revoked_by", "revoked_at", "number"):
        op.drop_column("materials", column)
    op.drop_index("ix_notifications_recipient", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("application_drafts")
