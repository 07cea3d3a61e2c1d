"""Idempotency keys: a repeated request with the same key gets the first answer, and runs once.

A caller sends ``Idempotency-Key`` with a state-changing request. The first request with
a key *reserves* it by inserting a row; the unique constraint on (actor, key) makes the
reservation race-safe on every backend (two concurrent inserts: one wins, the other sees
the row). When the work is done its answer (status and body) is stored in the row and
every later request with that key gets the stored answer. A request whose work failed
releases its reservation, since nothing was changed, so a retry runs afresh.

The work writes *what it created* (``case:12``, ``task:34``) into the reservation inside its
own transaction (``record_outcome``). A reservation that names its outcome is answered from
it at once by any request with the key, whoever holds it: the work committed, so there is
nothing left to wait for, and nothing is done a second time.

A reservation is a short lease (``DEFAULT_LEASE``, a few seconds) that a keeper thread of the
holding process renews while its work runs. A holder that died (a killed process, a lost
machine) stops renewing, and its reservation is taken over a few seconds later; a request
that finds a live holder waits for it (up to ``wait``) and then answers what the holder
answered. Taking over is a compare-and-set on ``reserved_at``, and so are renewals and
``record_outcome``: a holder whose reservation was taken over cannot commit its work, so
the work of one key is committed by one holder only. Lease times are read from the wall
clock of the store (never from the engine's clock, which tests and simulations move).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.errors import Conflict, InvalidInput, KeyInUse, Problem
from engine.storage.db import Database, rowcount
from engine.storage.models import Base, BigId, JsonType, UtcDateTime
from engine.time.clock import Clock, SystemClock

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=5)
DEFAULT_RETENTION = timedelta(hours=24)
# How often a request that found a live holder looks again.
POLL_SECONDS = 0.1


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
    # When the holder last reserved or renewed the key: its lease runs until this + the lease.
    reserved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[Any | None] = mapped_column(JsonType, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # What the work created ("case:12"), written in the work's own transaction.
    outcome: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Reservation:
    """The right to do the work of one key; hand it back with ``finish`` or ``release``.

    ``outcome`` is set when an earlier request's work committed before it could answer: this
    request answers from it and must not do the work again (it holds no lease then).

    While the lease is renewed, the row holds one of this holder's ``marks``: the time it
    last wrote, or the time a renewal under way is writing (until that renewal is known to
    have landed or failed). Every compare-and-set of the holder matches any of them, so a
    renewal racing the work's ``record_outcome`` never makes the work fail.
    """

    def __init__(self, record_id: int, reserved_at: datetime, outcome: str | None = None) -> None:
        self.record_id = record_id
        self.outcome = outcome
        self._marks: tuple[datetime, ...] = (reserved_at,)
        self._marks_lock = threading.Lock()
        self._renewal = threading.Lock()  # held through a renewal; ``close`` waits for it
        self._closed = False

    def marks(self) -> tuple[datetime, ...]:
        """The ``reserved_at`` values the row may hold while it is this holder's."""
        with self._marks_lock:
            return self._marks

    def holds(self) -> ColumnElement[bool]:
        """A condition true while the row is still this holder's."""
        return and_(IdempotencyRecord.id == self.record_id, IdempotencyRecord.reserved_at.in_(self.marks()))

    def renew_with(self, to: datetime, write: Callable[[tuple[datetime, ...]], bool]) -> bool:
        """Run ``write(marks)``, which moves the row's ``reserved_at`` to ``to``; False once closed.

        While it runs both the old marks and ``to`` count as this holder's; when ``write``
        raises, nobody knows whether it landed, so both still do.
        """
        with self._renewal:
            if self._closed:
                return False
            with self._marks_lock:
                before = self._marks
                self._marks = (*before, to)
            done = write(before)
            with self._marks_lock:
                self._marks = (to,) if done else before
            return done

    def close(self) -> None:
        """No more renewals (a renewal under way is waited for), before the answer is stored."""
        with self._renewal:
            self._closed = True


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

    When the reservation is no longer this work's (its holder stopped renewing it, and
    another request took the key over), raise Conflict: the work's transaction rolls back,
    so the key's work is committed by one holder only.
    """
    if reservation is None:
        return
    result = session.execute(
        update(IdempotencyRecord)
        .where(reservation.holds(), IdempotencyRecord.outcome.is_(None))
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
    """Reserves keys, keeps their leases alive while the work runs, stores answers and replays them.

    ``wait`` is how long a request waits for a live holder of its key before answering 409
    (with ``Retry-After``); by default a little more than a lease, so a dead holder's key is
    taken over within one request.
    """

    def __init__(
        self,
        db: Database,
        lease: timedelta = DEFAULT_LEASE,
        wait: timedelta | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.lease = lease
        self.wait = wait if wait is not None else lease * 1.5
        self.clock = clock or SystemClock()
        self._held: set[Reservation] = set()
        self._keeper: threading.Thread | None = None
        self._guard = threading.Lock()

    def reserve(self, actor: str, key: str, fingerprint: str) -> Reservation | StoredAnswer:
        """Reserve the key, or the stored answer when it was answered before.

        A reservation with ``outcome`` set says the work was done: answer from it. Raises
        InvalidInput when the key was used for a different request, and KeyInUse when a
        live holder of the key is still at work after ``wait``.
        """
        deadline = time.monotonic() + self.wait.total_seconds()
        while True:
            found = self._try_reserve(actor, key, fingerprint)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise KeyInUse(
                    "同一幂等键的请求仍在处理中，请稍后重试 (a request with this key is still running)",
                    retry_after=math.ceil(self.lease.total_seconds()),
                )
            time.sleep(POLL_SECONDS)

    def _try_reserve(self, actor: str, key: str, fingerprint: str) -> Reservation | StoredAnswer | None:
        """One look at the key: reserved, answered, recoverable, or (None) held by a live holder."""
        now = self.clock.now()
        try:
            with self.db.write() as session:
                record = IdempotencyRecord(
                    actor=actor, key=key, fingerprint=fingerprint, reserved_at=now, created_at=now
                )
                session.add(record)
                session.flush()
                return self._keep(Reservation(record.id, now))
        except IntegrityError:
            pass  # the key exists: look at it below
        with self.db.read() as session:
            existing = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.actor == actor, IdempotencyRecord.key == key
                )
            )
        if existing is None:  # released between our insert and our read: try again
            return self._try_reserve(actor, key, fingerprint)
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
        if existing.outcome is not None:
            return Reservation(existing.id, existing.reserved_at, existing.outcome)
        if existing.reserved_at + self.lease > now:
            return None
        with self.db.write() as session:
            taken = session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == existing.id,
                    IdempotencyRecord.reserved_at == existing.reserved_at,
                    IdempotencyRecord.status_code.is_(None),
                    IdempotencyRecord.outcome.is_(None),
                )
                .values(reserved_at=now)
            )
            won = rowcount(taken) == 1
        if won:
            log.info(
                "idempotency key of %s taken over from a holder that stopped renewing it",
                actor,
                extra={"event": {"event": "idempotency.take_over", "actor": actor}},
            )
            return self._keep(Reservation(existing.id, now))
        return self._try_reserve(actor, key, fingerprint)

    def finish(self, reservation: Reservation, status_code: int, body: Any) -> None:
        """Store the answer of the key, for every repeat to get (the first answer stored wins)."""
        self._drop(reservation)
        answerable = reservation.holds() | and_(
            IdempotencyRecord.id == reservation.record_id, IdempotencyRecord.outcome.is_not(None)
        )
        with self.db.write() as session:
            session.execute(
                update(IdempotencyRecord)
                .where(answerable, IdempotencyRecord.status_code.is_(None))
                .values(status_code=status_code, response=body, completed_at=self.clock.now())
            )

    def release(self, reservation: Reservation) -> None:
        """Give the key back after the work failed, so a retry runs afresh.

        Only a reservation whose work committed nothing is forgotten; one that names an
        outcome stays, and every retry answers from it.
        """
        self._drop(reservation)
        with self.db.write() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    reservation.holds(),
                    IdempotencyRecord.status_code.is_(None),
                    IdempotencyRecord.outcome.is_(None),
                )
            )

    def purge(self, before: datetime) -> int:
        """Forget keys created before ``before`` (kept a day by default); how many were removed."""
        with self.db.write() as session:
            result = session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.created_at < before,
                    # A running reservation is kept until it is answered or its lease runs out.
                    or_(IdempotencyRecord.status_code.is_not(None), IdempotencyRecord.reserved_at < before),
                )
            )
            return rowcount(result)

    # -- the keeper: renews the leases of this process's running reservations -----------------
    def renew(self, reservation: Reservation) -> bool:
        """Move the reservation's lease on; False when it is no longer this holder's."""

        def write(marks: tuple[datetime, ...]) -> bool:
            with self.db.write() as session:
                renewed = session.execute(
                    update(IdempotencyRecord)
                    .where(
                        IdempotencyRecord.id == reservation.record_id,
                        IdempotencyRecord.reserved_at.in_(marks),
                        IdempotencyRecord.status_code.is_(None),
                    )
                    .values(reserved_at=now)
                )
                return rowcount(renewed) == 1

        now = self.clock.now()
        return reservation.renew_with(now, write)

    def _keep(self, reservation: Reservation) -> Reservation:
        """Renew the reservation's lease until ``finish`` or ``release``."""
        with self._guard:
            self._held.add(reservation)
            if self._keeper is None:
                self._keeper = threading.Thread(
                    target=self._keep_alive, name="idempotency-lease", daemon=True
                )
                self._keeper.start()
        return reservation

    def _drop(self, reservation: Reservation) -> None:
        """Stop renewing the reservation (its answer is about to be stored, or it is released)."""
        with self._guard:
            self._held.discard(reservation)
        reservation.close()

    def _keep_alive(self) -> None:
        """Renew every held lease a few times per lease; end when none is held."""
        interval = self.lease.total_seconds() / 4
        while True:
            time.sleep(interval)
            with self._guard:
                held = list(self._held)
                if not held:
                    self._keeper = None
                    return
            for reservation in held:
                try:
                    if not self.renew(reservation):
                        self._drop(reservation)
                except Exception:  # a database outage: the work will fail too; try again
                    log.debug("lease renewal failed", exc_info=True)
