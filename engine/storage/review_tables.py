"""The table of material pre-reviews (智能预审): what the worker read from each uploaded document.

One row per material, deleted with it (``ON DELETE CASCADE``): the fields read from a
document are personal data and live exactly as long as the document. An upload whose kind
declares ``reads`` in the catalog is queued ``pending`` in the upload's own transaction (a
row insert, nothing more); the worker claims it with a lease (``claimed_at``): a worker that
dies mid-read leaves a claim that expires, and the next tick takes the row again. A kind
that reads nothing is stored ``not_applicable`` so the state is always answered from a row.

May import: ``engine.storage``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base, UtcDateTime


class ReviewStatus(StrEnum):
    """Where a material's pre-review stands."""

    PENDING = "pending"
    DONE = "done"
    UNREADABLE = "unreadable"
    NOT_APPLICABLE = "not_applicable"


class MaterialReview(Base):
    """The pre-review of one material: its state, the fields read, and the findings against the form."""

    __tablename__ = "material_reviews"
    __table_args__ = (Index("ix_material_reviews_status", "status", "claimed_at"),)

    material_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("materials.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    # Document field -> normalised value read from it (personal data: never logged).
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    # [{field, form_value, document_value, verdict}] against the form data when last compared.
    findings: Mapped[list[Any]] = mapped_column(default=list)
    mismatches: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The lease of the worker reading it: a claim older than the lease is taken again.
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
