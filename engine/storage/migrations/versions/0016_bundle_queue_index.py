"""A bundle's open tasks by due time: the index of a queue filtered by bundle.

Revision ID: 0016_bundle_queue_index
Revises: 0015_certificate_content

An analyst's or admin's queue of one bundle (``GET /api/tasks?bundle=...``) looks for the
bundle's open tasks by due time. The only index led by the bundle was ``(bundle_key,
item_key, state)``, from the first schema and used by no query: with the item between the
bundle and the state it found the bundle's rows and then read every task the bundle ever had,
finished ones too, so the page cost grew with the bundle's history (0.39 ms at 200 cases of
enterprise-startup, 1,600 task rows). ``(bundle_key, state, due_at, id)`` finds the open ones
alone, in queue order for one state.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016_bundle_queue_index"
down_revision: str | Sequence[str] | None = "0015_certificate_content"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_work_items_bundle", table_name="work_items")
    op.create_index("ix_work_items_bundle_queue", "work_items", ["bundle_key", "state", "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_work_items_bundle_queue", table_name="work_items")
    op.create_index("ix_work_items_bundle", "work_items", ["bundle_key", "item_key", "state"])
