"""Tables of the transactional outbox and its webhooks (``engine.integration``).

``outbox_events`` holds one row per event of the spine, written in the transaction of the
change it records (so a rolled-back change leaves none). ``webhook_subscriptions`` are the
admin's receivers; ``webhook_deliveries`` one row per event and subscription that wants it,
written in the same transaction. A delivery row is the unit the workers claim: its id
orders the deliveries of one case to one subscription, and its lease (``locked_until``)
keeps two workers from sending it at the same time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base, BigId, JsonType, UtcDateTime, utcnow


class OutboxEvent(Base):
    """One event of the spine, as it is sent out (the receiver de-duplicates by ``event_id``)."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    case_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    case_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bundle: Mapped[str | None] = mapped_column(String(64), nullable=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    item: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The event as the "events" format sends it (only audited detail, never UNAUDITED fields).
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookSubscription(Base):
    """A receiver an admin registered: where to post, which events, and the signing secret."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    url: Mapped[str] = mapped_column(String(2048))
    # Empty lists match everything.
    kinds: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    bundles: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    departments: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    format: Mapped[str] = mapped_column(String(16), default="events")
    secret: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event on its way to one subscription: pending, delivered or dead (dead-lettered)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The claim: due pending rows, oldest first; and the head of each case's chain.
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_chain", "subscription_id", "case_id", "state", "id"),
        Index("ix_webhook_deliveries_event", "event_row_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_row_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"))
    case_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # The body of a format other than "events" (the 办件 record), built in the event's transaction.
    body: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    replays: Mapped[int] = mapped_column(Integer, default=0)
