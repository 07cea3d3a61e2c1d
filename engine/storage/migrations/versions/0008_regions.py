"""Regions: divisions (行政区划), offices, and the division of accounts, cases, tasks and variants.

``divisions`` is the tree of GB/T 2260 codes; ``offices`` lists the (department, division)
offices besides the implicit ones at the default division. ``work_items.division`` is the
office a task was routed to: NOT NULL, so rows from before regions get the default division
(``ONETHING_DEFAULT_DIVISION``, else 310000), where every department has its office; new
rows always get it from routing, so the column keeps no server default. ``cases`` gain the
deciding division and the receiving office of 异地代收; ``deployments`` gain the variant's
division and base; ``accounts`` the account's division. Two indexes serve an office's queue:
``ix_work_items_office`` by state, and ``ix_work_items_office_open`` over the open human
tasks only, whose first page then reads one page of rows however large the table grows.

Revision ID: 0008_regions
Revises: 0007_outbox
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.storage.models import UtcDateTime

# Written out here, not imported: a migration keeps the schema of its day.
OPEN_QUEUE_WHERE = "kind = 'human' AND state IN ('ready', 'claimed', 'failed')"

revision: str = "0008_regions"
down_revision: str | Sequence[str] | None = "0007_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _default_division() -> str:
    """The division existing tasks belong to: the configured default (checked like Settings does)."""
    code = os.environ.get("ONETHING_DEFAULT_DIVISION", "310000").strip()
    if not re.fullmatch(r"[0-9]{6}|[0-9]{9}|[0-9]{12}", code):
        raise ValueError(f"ONETHING_DEFAULT_DIVISION {code!r} is not a 6, 9 or 12 digit division code")
    return code


def upgrade() -> None:
    default = _default_division()
    op.create_table(
        "divisions",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent", sa.String(length=12), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_divisions_parent", "divisions", ["parent"], unique=False)
    op.create_table(
        "offices",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("division", sa.String(length=12), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("hours", sa.String(length=128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("department", "division", name="uq_offices_department_division"),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("division", sa.String(length=12), nullable=True))
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("division", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("base_id", BIG_ID, nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("division", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("received_division", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("received_department", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("received_by", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_cases_division", ["division", "status", "id"], unique=False)
    # Added nullable, filled, then made NOT NULL: no server default stays behind to hide a
    # task that routing forgot to place.
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("division", sa.String(length=12), nullable=True))
    op.execute(sa.text("UPDATE work_items SET division = :code").bindparams(code=default))
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.alter_column("division", existing_type=sa.String(length=12), nullable=False)
        batch_op.create_index(
            "ix_work_items_office", ["department", "division", "state", "due_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_work_items_office_open",
            ["department", "division", "due_at", "id"],
            unique=False,
            postgresql_where=sa.text(OPEN_QUEUE_WHERE),
            sqlite_where=sa.text(OPEN_QUEUE_WHERE),
        )


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_office_open")
        batch_op.drop_index("ix_work_items_office")
        batch_op.drop_column("division")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_division")
        batch_op.drop_column("received_by")
        batch_op.drop_column("received_department")
        batch_op.drop_column("received_division")
        batch_op.drop_column("division")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("base_id")
        batch_op.drop_column("division")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("division")
    op.drop_table("offices")
    op.drop_index("ix_divisions_parent", table_name="divisions")
    op.drop_table("divisions")
