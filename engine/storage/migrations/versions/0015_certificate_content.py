"""Issued certificates keep their document in their ``materials`` row (``content``).

Revision ID: 0015_certificate_content
Revises: 0014_reviews

Certificates issued before this revision stay files and are read as before. Going back down
would drop the documents of the certificates issued since, which exist nowhere else, so the
downgrade refuses while any row holds one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_certificate_content"
down_revision: str | Sequence[str] | None = "0014_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("materials", sa.Column("content", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    kept = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM materials WHERE content IS NOT NULL"))
        .scalar_one()
    )
    if kept:
        raise RuntimeError(
            f"{kept} issued certificates keep their documents only in materials.content; "
            "downgrading below 0015_certificate_content would lose them"
        )
    # A plain ALTER TABLE, on SQLite too (3.35+): a batch copy of ``materials`` would drop the
    # table it copies, and its foreign keys' ON DELETE CASCADE would empty material_reviews.
    op.drop_column("materials", "content")
