"""Delivering the outbox: claim due deliveries, POST them signed, record the answer.

At least once, in order per case and subscription, by any number of workers:

- **Claim** (one short transaction): the due pending deliveries that head their chain,
  i.e. no earlier pending delivery of the same case to the same subscription exists,
  oldest first. On PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED`` and leased
  (``locked_until``, ``locked_by``), so two workers never hold one delivery, and the
  chain's next delivery is not claimable while its head is pending (leased or waiting
  for a retry): per-case order holds across workers. On SQLite the write transaction
  (``BEGIN IMMEDIATE``) serializes the claims.
- **Send**, outside any transaction: ``POST`` the body with the signature headers
  (``engine.integration.signing``), with a timeout, no redirects followed.
- **Finish** (one more short transaction, only while the lease is still ours): a 2xx is
  delivered; anything else (another status, a timeout, a refused connection) is retried
  after ``backoff_seconds * 2**(attempts-1)`` (times a jitter of 0.5 to 1, at most
  ``backoff_max_seconds``), and dead-lettered (``dead``) once ``max_attempts`` tries failed.
  A dead delivery no longer blocks its chain; the admin can replay it
  (``engine.integration.subscriptions``).

A worker that dies mid-send leaves its lease to expire (``lease_seconds``, longer than the
timeout), then another worker sends the delivery again: receivers de-duplicate by
``X-Onething-Event-Id``.

May import: ``engine.storage``, ``engine.time``, ``engine.integration``; ``httpx``.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from engine.integration.outbox import DELIVERIES, EVENTS, PENDING, SUBSCRIPTIONS
from engine.integration.signing import EVENT_ID_HEADER, sign
from engine.storage.db import Database, rowcount
from engine.storage.settings import Settings
from engine.time.clock import Clock

log = logging.getLogger("onething.webhooks")

DELIVERED = "delivered"
DEAD = "dead"
STATES = (PENDING, DELIVERED, DEAD)
KIND_HEADER = "X-Onething-Event-Kind"
ATTEMPT_HEADER = "X-Onething-Attempt"
USER_AGENT = "onething-webhooks/1"
ERROR_KEPT = 500  # characters of a failure kept on the delivery row


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try (``Settings.webhook_*``)."""

    max_attempts: int = 8
    timeout_seconds: float = 10.0
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0
    concurrency: int = 4
    batch: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        """The policy the settings describe."""
        return cls(
            max_attempts=settings.webhook_max_attempts,
            timeout_seconds=settings.webhook_timeout_seconds,
            backoff_seconds=settings.webhook_backoff_seconds,
            backoff_max_seconds=settings.webhook_backoff_max_seconds,
            concurrency=settings.webhook_concurrency,
        )

    @property
    def lease_seconds(self) -> float:
        """How long a claim holds: past the whole timeout, so a live worker never loses it."""
        return self.timeout_seconds * 3 + 30

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Seconds before the next try after ``attempts`` failed ones (exponential, capped, jittered)."""
        wait = min(self.backoff_max_seconds, self.backoff_seconds * 2.0 ** max(attempts - 1, 0))
        return float(wait * (0.5 + rng.random() / 2))


@dataclass(frozen=True)
class Claimed:
    """One delivery this worker holds the lease of."""

    id: int
    subscription_id: int
    url: str
    secret: str
    event_id: str
    kind: str
    body: bytes
    attempts: int


@dataclass(frozen=True)
class Answer:
    """What came back from one try: a status (None when no answer came) and the error if it failed."""

    status: int | None
    error: str

    @property
    def ok(self) -> bool:
        """A 2xx answer: delivered."""
        return self.status is not None and 200 <= self.status < 300


@dataclass
class DeliveryTick:
    """What one round did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0  # leases that expired before the answer came (another worker may have sent it)
    errors: list[str] = field(default_factory=list)


def encode(payload: Any) -> bytes:
    """The body bytes that are signed and sent (compact UTF-8 JSON)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class Deliverer:
    """Claims, sends and finishes deliveries; one per worker thread or process."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        *,
        client: httpx.Client | None = None,
        worker_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        self.worker_id = worker_id or f"deliver-{uuid.uuid4().hex[:12]}"
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(self.policy.timeout_seconds),
            follow_redirects=False,
            # The worker in the agent, so a receiver's log tells which worker sent what.
            headers={"User-Agent": f"{USER_AGENT} ({self.worker_id})"},
        )
        self._rng = rng or random.Random()
        self._pool = ThreadPoolExecutor(max_workers=self.policy.concurrency, thread_name_prefix="webhook")

    def close(self) -> None:
        """Stop the senders and close the HTTP connections this deliverer opened."""
        self._pool.shutdown(wait=True)
        if self._own_client:
            self.client.close()

    # -- claim ------------------------------------------------------------------------
    def _due_ids(self, session: Session, limit: int) -> list[int]:
        now = self.clock.now()
        d, s = DELIVERIES.c, SUBSCRIPTIONS.c
        earlier = aliased(DELIVERIES)
        blocked = exists().where(
            earlier.c.subscription_id == d.subscription_id,
            earlier.c.case_id == d.case_id,
            earlier.c.state == PENDING,
            earlier.c.id < d.id,
        )
        active = exists().where(s.id == d.subscription_id, s.active.is_(True))
        query = (
            select(d.id)
            .where(
                d.state == PENDING,
                d.next_attempt_at <= now,
                or_(d.locked_until.is_(None), d.locked_until < now),
                active,
                ~blocked,
            )
            .order_by(d.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=DELIVERIES)
        return list(session.scalars(query))

    def claim(self, limit: int | None = None) -> list[Claimed]:
        """Lease the due deliveries that head their chains (see the module docstring)."""
        limit = limit or self.policy.batch
        now = self.clock.now()
        if self.db.is_sqlite:
            # Look before taking SQLite's one write lock: an idle worker never queues for it.
            with self.db.read() as session:
                if not self._due_ids(session, 1):
                    return []
        with self.db.write() as session:
            ids = self._due_ids(session, limit)
            if not ids:
                return []
            d, e, s = DELIVERIES.c, EVENTS.c, SUBSCRIPTIONS.c
            session.execute(
                update(DELIVERIES)
                .where(d.id.in_(ids))
                .values(
                    locked_until=now + timedelta(seconds=self.policy.lease_seconds),
                    locked_by=self.worker_id,
                )
            )
            rows = session.execute(
                select(
                    d.id,
                    d.subscription_id,
                    d.body,
                    d.attempts,
                    s.url,
                    s.secret,
                    e.event_id,
                    e.kind,
                    e.payload,
                )
                .join_from(DELIVERIES, SUBSCRIPTIONS, s.id == d.subscription_id)
                .join(EVENTS, e.id == d.event_row_id)
                .where(d.id.in_(ids))
                .order_by(d.id)
            ).all()
        return [
            Claimed(
                id=row.id,
                subscription_id=row.subscription_id,
                url=row.url,
                secret=row.secret,
                event_id=row.event_id,
                kind=row.kind,
                body=encode(row.body if row.body is not None else row.payload),
                attempts=row.attempts,
            )
            for row in rows
        ]

    # -- send -------------------------------------------------------------------------
    def send(self, claimed: Claimed) -> Answer:
        """POST one delivery, signed now; never raises for what the network or receiver does."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            EVENT_ID_HEADER: claimed.event_id,
            KIND_HEADER: claimed.kind,
            ATTEMPT_HEADER: str(claimed.attempts + 1),
            **sign(claimed.secret, claimed.body),  # the wall clock: receivers compare it with theirs
        }
        try:
            response = self.client.post(claimed.url, content=claimed.body, headers=headers)
        except httpx.HTTPError as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}"[:ERROR_KEPT])
        if 200 <= response.status_code < 300:
            return Answer(response.status_code, "")
        return Answer(
            response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"[:ERROR_KEPT]
        )

    # -- finish -----------------------------------------------------------------------
    def finish(self, claimed: Claimed, answer: Answer) -> str | None:
        """Record the answer while the lease is ours: the new state, or None if the lease was lost."""
        now = self.clock.now()
        attempts = claimed.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status": answer.status,
            "last_error": answer.error,
            "locked_until": None,
            "locked_by": None,
        }
        if answer.ok:
            state = DELIVERED
            values.update(state=DELIVERED, delivered_at=now)
        elif attempts >= self.policy.max_attempts:
            state = DEAD
            values.update(state=DEAD)
        else:
            state = PENDING
            values["next_attempt_at"] = now + timedelta(seconds=self.policy.backoff(attempts, self._rng))
        d = DELIVERIES.c
        with self.db.write() as session:
            result = session.execute(
                update(DELIVERIES)
                .where(and_(d.id == claimed.id, d.locked_by == self.worker_id, d.state == PENDING))
                .values(**values)
            )
            if rowcount(result) != 1:
                return None
        return state

    # -- one round --------------------------------------------------------------------
    def run_once(self) -> DeliveryTick:
        """Claim a batch, send it (several at once: one per chain, so order holds), finish each."""
        tick = DeliveryTick()
        claimed = self.claim()
        tick.claimed = len(claimed)
        if not claimed:
            return tick
        answers: Sequence[Answer]
        answers = list(self._pool.map(self.send, claimed)) if len(claimed) > 1 else [self.send(claimed[0])]
        for one, answer in zip(claimed, answers, strict=True):
            state = self.finish(one, answer)
            if state is None:
                tick.lost += 1
            elif state == DELIVERED:
                tick.delivered += 1
            elif state == DEAD:
                tick.dead += 1
                log.warning(
                    "webhook delivery %s (event %s) dead after %d tries: %s",
                    one.id,
                    one.event_id,
                    one.attempts + 1,
                    answer.error,
                    extra={"event": {"event": "webhook.dead", "delivery": one.id, "url": one.url}},
                )
            else:
                tick.retried += 1
                tick.errors.append(answer.error)
        return tick


def delivery_lags(db: Database, since: datetime) -> list[float]:
    """Seconds from each event to its delivery, for deliveries made since ``since`` (the bench's lag)."""
    d = DELIVERIES.c
    with db.read() as session:
        rows = session.execute(
            select(d.created_at, d.delivered_at).where(d.state == DELIVERED, d.delivered_at >= since)
        ).all()
    return sorted((row.delivered_at - row.created_at).total_seconds() for row in rows)


def purge(db: Database, before: datetime) -> int:
    """Forget deliveries delivered before ``before``, then outbox events older than it that no delivery
    still names (pending and dead ones stay: they are still owed). How many events went.

    The audit trail (``case_events``) keeps the record of what happened; the outbox only
    has to hold what is still to be sent, and what was sent for a while (replays).
    """
    d, e = DELIVERIES.c, EVENTS.c
    with db.write() as session:
        session.execute(delete(DELIVERIES).where(d.state == DELIVERED, d.delivered_at < before))
        named = exists().where(d.event_row_id == e.id)
        return rowcount(session.execute(delete(EVENTS).where(e.created_at < before, ~named)))
