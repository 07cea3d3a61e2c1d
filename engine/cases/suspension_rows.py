"""The table of suspensions (挂起记录): one row per time a case was suspended, closed by its resume.

A case may be suspended several times; each row keeps who suspended it, when, why and on what
legal basis, and who resumed it and when. ``working_seconds`` is the working time the
clocks stood still (set on resume), so the total a case spent suspended is one sum.

May import: ``engine.storage``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base, BigId, UtcDateTime


class CaseSuspension(Base):
    """One suspension of a case: open while ``resumed_at`` is None."""

    __tablename__ = "case_suspensions"
    __table_args__ = (Index("ix_case_suspensions_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"))
    suspended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    suspended_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    resumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resumed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resume_note: Mapped[str] = mapped_column(Text, default="")
    # The working time the departments' clocks stood still, known on resume.
    working_seconds: Mapped[float] = mapped_column(Float, default=0.0)
