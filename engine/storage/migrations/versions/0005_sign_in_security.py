"""Sign-in security: failure counters for the sign-in throttle, and session generations.

``sign_in_failures`` holds the throttle's counters (engine.sign_in), shared by every
process on the database. ``accounts.session_generation`` and ``token_generation`` are
bumped on sign-out: a session cookie or bearer token carries the generation it was issued
under, and is refused once the account has moved on (engine.accounts).

Revision ID: 0005_sign_in_security
Revises: 0004_idempotency_outcome
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.storage.models import UtcDateTime

revision: str = "0005_sign_in_security"
down_revision: str | Sequence[str] | None = "0004_idempotency_outcome"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UtcDateTime(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_sign_in_failures_last_failure_at", "sign_in_failures", ["last_failure_at"])
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("token_generation")
        batch_op.drop_column("session_generation")
    op.drop_index("ix_sign_in_failures_last_failure_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
