"""Join the suspension and version-migration branches of the schema history into one head.

Revision ID: 0013_merge
Revises: 0011_suspension, 0012_migrations
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0013_merge"
down_revision: str | Sequence[str] | None = ("0011_suspension", "0012_migrations")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: both branches are applied; later revisions build on this one."""


def downgrade() -> None:
    """Nothing to undo."""
