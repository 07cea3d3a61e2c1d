"""Tables of the applicant's and staff's portal: saved drafts and the message centre.

``application_drafts`` keeps one unsent application per applicant and bundle, saved as the
applicant types, so leaving the form loses nothing; it is deleted when the application is
submitted. ``notifications`` is the message centre: one row per recipient account, written
by a subscriber of the event spine in the transaction of the change it tells about (a new
task in the recipient's office queue, a correction notice, a finished case, an answered
rating), and marked read by its recipient.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base, BigId, UtcDateTime, utcnow


class ApplicationDraft(Base):
    """An application being filled in: the form data and uploaded materials so far."""

    __tablename__ = "application_drafts"
    __table_args__ = (
        UniqueConstraint("applicant", "bundle_key", name="uq_application_drafts_applicant_bundle"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    applicant: Mapped[str] = mapped_column(String(64))
    bundle_key: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Material kind -> stored material id, as the application form posts them.
    materials: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """One message to one account in its message centre."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_recipient", "recipient", "read_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(64))
    # task_ready | correction_notice | case_finished | rating_answered | ... (see engine.portal)
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    work_item_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # {"zh": ..., "en": ...}: the message is written once, in both languages, when it is sent.
    title: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    link: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
