"""The queue of facts for the analytics aggregates: counted after the change, not inside it.

Revision ID: 0018_analytics_facts
Revises: 0017_account_office_index

Until this revision a completed task or finished case updated its shared aggregate rows
(``task_stats``, ``case_stats``, ``period_stats``) inside the change's own transaction: a
locked read and two writes on every completion. From it on, the change queues one row saying
what it counts for, and ``engine.analytics.projection`` adds queued facts to the aggregates
in batches. The queue starts empty: the aggregates already hold everything counted so far.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.storage.models import BigId, JsonType, UtcDateTime

revision: str = "0018_analytics_facts"
down_revision: str | Sequence[str] | None = "0017_account_office_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_facts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("fact", JsonType, nullable=False),
    )


def downgrade() -> None:
    # Facts still queued go with the table and the older code never counts them: stop the
    # servers once a worker tick or an analytics read has emptied the queue, or refill the
    # aggregates afterwards with ``engine.analytics.rebuild``.
    op.drop_table("analytics_facts")
