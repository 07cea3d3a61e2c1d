"""External tasks, incidents, case codes and message waits (departments' own systems).

``work_items`` gains Camunda 7's external task fields: ``kind`` ("human" or "external"),
``topic``, ``priority``, the lock (``worker_id``, ``lock_expires_at``), ``retries`` and the
last failure's ``error_message`` / ``error_details``; existing rows are human tasks.
``cases.code`` is the 办件编码 assigned at submission (unique). ``message_waits`` lists the
message names each case's workflow waits for, so correlation finds cases by name.

Revision ID: 0006_external_tasks
Revises: 0005_sign_in_security
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.storage.models import UtcDateTime

revision: str = "0006_external_tasks"
down_revision: str | Sequence[str] | None = "0005_sign_in_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="human", nullable=False))
        batch_op.add_column(sa.Column("topic", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("worker_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("lock_expires_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("retries", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("error_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("error_details", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_work_items_topic", ["kind", "topic", "state", "priority", "id"], unique=False
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_cases_code", ["code"], unique=True)
    op.create_table(
        "message_waits",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_message_waits_name", "message_waits", ["name", "case_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_message_waits_name", table_name="message_waits")
    op.drop_table("message_waits")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_code")
        batch_op.drop_column("code")
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_topic")
        batch_op.drop_column("error_details")
        batch_op.drop_column("error_message")
        batch_op.drop_column("retries")
        batch_op.drop_column("lock_expires_at")
        batch_op.drop_column("worker_id")
        batch_op.drop_column("priority")
        batch_op.drop_column("topic")
        batch_op.drop_column("kind")
