"""Join the API and feedback branches of the schema history into one head.

Revision ID: 0003_merge
Revises: 0002_api, 0002_feedback
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003_merge"
down_revision: str | Sequence[str] | None = ("0002_api", "0002_feedback")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: both branches are applied; later revisions build on this one."""


def downgrade() -> None:
    """Nothing to undo."""
