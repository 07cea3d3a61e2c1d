"""Idempotency keys: a repeated request with the same key gets the first answer, and runs once.

A caller sends ``Idempotency-Key`` with a state-changing request. The first request with
a key *reserves* it by inserting a row; the unique constraint on (actor, key) makes the
reservation race-safe on every backend (two concurrent inserts: one wins, the other sees
the row). When the work is done its answer (status and body) is stored in the row and
every later request with that key gets the stored answer. A request whose work failed
releases its reservation, since nothing was changed, so a retry runs afresh.

A reservation whose process died mid-request is taken over after ``lease`` has passed,
so a key is never blocked for good; taking it over is a compare-and-set on the
reservation time, so only one taker wins.

The work writes *what it created* (``case:12``, ``task:34``) into the reservation inside its
own transaction (``record_outcome``). So a process killed after the work committed but
before the answer was stored leaves a reservation that names its outcome, and the taker
answers from that outcome instead of doing the work a second time: the key is honoured
across crashes, not only across retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Database, rowcount
from engine.errors import Conflict, InvalidInput, Problem
from engine.models import Base, BigId, JsonType, UtcDateTime

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_RETENTION = timedelta(hours=24)


class IdempotencyRecord(Base):
    """One reserved or answered idempotency key of one caller."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("actor", "key", name="uq_idempotency_keys_actor_key"),
        Index("ix_idempotency_keys_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    # sha256 of what was asked (method, path, body): the same key for another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    reserved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[Any | None] = mapped_column(JsonType, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # What the work created ("case:12"), written in the work's own transaction.
    outcome: Mapped[str | None] = mapped_column(String(64), nullable=True)


@dataclass(frozen=True)
class Reservation:
    """The right to do the work of one key; hand it back with ``finish`` or ``release``.

    ``outcome`` is set when an earlier holder's work committed before it could answer: the
    new holder answers from it and must not do the work again.
    """

    record_id: int
    reserved_at: datetime
    outcome: str | None = None


def outcome_ref(kind: str, ident: int) -> str:
    """The reference a work writes for what it created (``case:12``)."""
    return f"{kind}:{ident}"


def outcome_id(ref: str, kind: str) -> int:
    """The id in a reference written by ``outcome_ref`` for ``kind``."""
    prefix, _, ident = ref.partition(":")
    if prefix != kind or not ident.isdigit():
        raise ValueError(f"not a {kind} outcome: {ref!r}")
    return int(ident)


def record_outcome(session: Session, reservation: Reservation | None, ref: str) -> None:
    """Write what the work created into its reservation, in the work's own transaction.

    When the reservation is no longer this work's (its lease ran out while it was slow, and
    another request took the key over), raise Conflict: the work's transaction rolls back, so
    the key's work is committed by one holder only.
    """
    if reservation is None:
        return
    result = session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == reservation.record_id,
            IdempotencyRecord.reserved_at == reservation.reserved_at,
            IdempotencyRecord.outcome.is_(None),
        )
        .values(outcome=ref)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise Conflict("幂等键已由另一个请求接手 (the Idempotency-Key was taken over by another request)")


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer to a key, replayed for every repeat."""

    status_code: int
    body: Any


class IdempotencyStore:
    """Reserves keys, stores answers and replays them."""

    def __init__(self, db: Database, lease: timedelta = DEFAULT_LEASE) -> None:
        self.db = db
        self.lease = lease

    def reserve(self, actor: str, key: str, fingerprint: str, now: datetime) -> Reservation | StoredAnswer:
        """Reserve the key, or the stored answer when it was answered before.

        Raises InvalidInput when the key was used for a different request, and Conflict
        while another request with the key is still running.
        """
        try:
            with self.db.write() as session:
                record = IdempotencyRecord(
                    actor=actor, key=key, fingerprint=fingerprint, reserved_at=now, created_at=now
                )
                session.add(record)
                session.flush()
                return Reservation(record.id, now)
        except IntegrityError:
            pass  # the key exists: look at it below
        with self.db.read() as session:
            existing = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.actor == actor, IdempotencyRecord.key == key
                )
            )
        if existing is None:  # released between our insert and our read: try once more
            return self.reserve(actor, key, fingerprint, now)
        if existing.fingerprint != fingerprint:
            raise InvalidInput(
                "幂等键已用于另一个请求 (Idempotency-Key already used for a different request)",
                [
                    Problem(
                        "幂等键已用于另一个请求，请换一个新键",
                        where="header.Idempotency-Key",
                        rule="idempotency-key-reuse",
                        message_en="this Idempotency-Key was used for a different request; use a new key",
                    )
                ],
            )
        if existing.status_code is not None:
            return StoredAnswer(existing.status_code, existing.response)
        if existing.reserved_at + self.lease > now:
            raise Conflict(
                "同一幂等键的请求仍在处理中，请稍后重试 (a request with this key is still running)"
            )
        with self.db.write() as session:
            taken = session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == existing.id,
                    IdempotencyRecord.reserved_at == existing.reserved_at,
                    IdempotencyRecord.status_code.is_(None),
                )
                .values(reserved_at=now)
            )
            if rowcount(taken) == 1:
                return Reservation(existing.id, now, existing.outcome)
        return self.reserve(actor, key, fingerprint, now)

    def finish(self, reservation: Reservation, status_code: int, body: Any, now: datetime) -> None:
        """Store the answer of the reserved key, for every repeat to get."""
        with self.db.write() as session:
            session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == reservation.record_id,
                    IdempotencyRecord.reserved_at == reservation.reserved_at,
                )
                .values(status_code=status_code, response=body, completed_at=now)
            )

    def release(self, reservation: Reservation) -> None:
        """Give the key back after the work failed.

        When the work changed nothing the key is forgotten, so a retry runs afresh. When it
        had committed (its outcome is recorded) the lease is ended at once instead: the next
        request with the key takes the reservation over and answers from the outcome.
        """
        mine = (
            IdempotencyRecord.id == reservation.record_id,
            IdempotencyRecord.reserved_at == reservation.reserved_at,
            IdempotencyRecord.status_code.is_(None),
        )
        with self.db.write() as session:
            session.execute(delete(IdempotencyRecord).where(*mine, IdempotencyRecord.outcome.is_(None)))
            session.execute(
                update(IdempotencyRecord)
                .where(*mine, IdempotencyRecord.outcome.is_not(None))
                .values(reserved_at=reservation.reserved_at - self.lease)
            )

    def purge(self, before: datetime) -> int:
        """Forget keys created before ``before`` (kept a day by default); how many were removed."""
        with self.db.write() as session:
            result = session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.created_at < before,
                    # A running reservation is kept until it is answered or its lease runs out.
                    (IdempotencyRecord.status_code.is_not(None)) | (IdempotencyRecord.reserved_at < before),
                )
            )
            return rowcount(result)
