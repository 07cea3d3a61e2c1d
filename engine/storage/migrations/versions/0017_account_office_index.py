"""Accounts by role and division: an office's clerks found without reading every account.

Revision ID: 0017_account_office_index
Revises: 0016_bundle_queue_index

Each new task tells the clerks of its office (the message centre), and the lookup asks for the
active clerks of a division. ``accounts`` had no index but the username's, so SQLite read the
whole table in username order, every applicant who ever signed up included, on every action
that opened a task. ``(role, division)`` reads the clerks alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017_account_office_index"
down_revision: str | Sequence[str] | None = "0016_bundle_queue_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_accounts_office", "accounts", ["role", "division"])


def downgrade() -> None:
    op.drop_index("ix_accounts_office", table_name="accounts")
