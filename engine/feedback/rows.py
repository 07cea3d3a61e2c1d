"""The rows of 好差评: ratings, rectifications of bad ratings (差评整改) and complaints (办不成事反映).

May import: ``engine.storage``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base, BigId, UtcDateTime, utcnow


class RectificationState:
    """States of a rectification task (plain strings in the table)."""

    OPEN = "open"
    REPLIED = "replied"


class ComplaintState:
    """States of a complaint."""

    OPEN = "open"
    ANSWERED = "answered"


class Rating(Base):
    """One rating of a finished case, for the bundle ('' department) or one department."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("case_id", "department", name="uq_ratings_case_department"),
        Index("ix_ratings_bundle", "bundle_key", "version", "department"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"))
    bundle_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(64), default="")
    applicant: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    responsible_department: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rectification(Base):
    """差评整改: a department's task to answer a bad rating by a deadline."""

    __tablename__ = "rectifications"
    __table_args__ = (
        Index("ix_rectifications_queue", "department", "state", "due_at"),
        Index("ix_rectifications_case", "case_id"),
        Index("ix_rectifications_due", "state", "overdue", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"))
    rating_id: Mapped[int] = mapped_column(BigId, ForeignKey("ratings.id"))
    bundle_key: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=RectificationState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_by: Mapped[str] = mapped_column(String(64), default="")
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Complaint(Base):
    """办不成事反映: a complaint on a case or alone, answered from a supervisor queue."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_complainant", "complainant", "id"),
        Index("ix_complaints_queue", "department", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cases.id"), nullable=True)
    bundle_key: Mapped[str] = mapped_column(String(64), default="")
    complainant: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=ComplaintState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_by: Mapped[str] = mapped_column(String(64), default="")
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
