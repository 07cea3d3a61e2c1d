"""Webhook subscriptions as the admin manages them, and the deliveries they can see and replay.

An admin registers a receiver (``/api/webhooks``): its URL (http or https), the event kinds
it wants (none: every kind), the bundles and departments it follows (none: all), its
format (``events``, one event per POST, or ``banjian``, the 办件 records of
``engine.integration.banjian``) and whether it is active. The signing secret is written
only: given at creation (or generated) and answered once, never again; ``rotate_secret``
makes a new one. A department filter takes the events of that department's tasks and the
case-wide events of bundles it has an item in.

Deliveries are listed per subscription, by state (``pending``, ``delivered``, ``dead``);
replaying puts one delivery (or every dead one) back to pending with its tries reset: the
same event id and body go out again, after the case's earlier pending deliveries.

Only admins manage webhooks; every method takes the ``Actor`` and refuses others.

May import: ``engine.storage``, ``engine.people``, ``engine.errors``, ``engine.time``, ``engine.integration``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotAllowed, NotFound, Problem
from engine.integration.delivery import DEAD, STATES
from engine.integration.outbox import DELIVERIES, EVENTS, FORMATS, PENDING, SUBSCRIPTIONS
from engine.people.actors import Actor, Role
from engine.storage.db import Database, rowcount
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.time.clock import Clock

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
SECRET_MIN = 16
SECRET_MAX = 255
URL_MAX = 2048
NAME_MAX = 128
FILTER_MAX = 100
OUTCOME = "webhook"  # what a creation records for its Idempotency-Key (``webhook:3``)


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as the admin sees it (never its secret), with how its deliveries stand."""

    id: int
    name: str
    url: str
    kinds: tuple[str, ...]
    bundles: tuple[str, ...]
    departments: tuple[str, ...]
    format: str
    active: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    pending: int
    delivered: int
    dead: int


@dataclass(frozen=True)
class CreatedSubscription:
    """A new subscription and its secret, answered this once."""

    subscription: SubscriptionView
    secret: str


@dataclass(frozen=True)
class DeliveryView:
    """One event on its way to one subscription."""

    id: int
    subscription_id: int
    event_id: str
    kind: str
    case_id: int | None
    case_code: str | None
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    replays: int


def _admin(actor: Actor) -> None:
    if actor.role is not Role.ADMIN:
        raise NotAllowed("只有管理员可以管理 Webhook (only admins manage webhooks)")


def _invalid(where: str, message: str, message_en: str) -> InvalidInput:
    problem = Problem(message=message, where=where, rule="webhook", message_en=message_en)
    return InvalidInput(f"Webhook 设置有误 (invalid webhook): {message_en}", [problem])


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host (and a valid port, if any), at most 2048 characters."""
    try:
        parts = urlsplit(url)
        _port = parts.port  # raises on a port out of range
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a malformed authority ("http://[::1")
        valid = False
    if not valid or len(url) > URL_MAX or any(c.isspace() for c in url):
        raise _invalid(
            "url", "地址须为 http 或 https 的完整网址", "the URL must be an absolute http or https URL"
        )
    return url


def _names(where: str, values: Sequence[str], pattern: re.Pattern[str]) -> list[str]:
    if len(values) > FILTER_MAX or not all(isinstance(v, str) and pattern.fullmatch(v) for v in values):
        raise _invalid(where, f"{where} 中有无效的名称", f"{where} holds a name that is not valid")
    return sorted(set(values))


def _format(value: str) -> str:
    if value not in FORMATS:
        raise _invalid(
            "format", f"格式须为 {'、'.join(FORMATS)}", f"format must be one of {', '.join(FORMATS)}"
        )
    return value


def _secret(value: str | None) -> str:
    if value is None:
        return secrets.token_urlsafe(32)
    if not SECRET_MIN <= len(value) <= SECRET_MAX:
        raise _invalid(
            "secret",
            f"密钥须为 {SECRET_MIN} 到 {SECRET_MAX} 个字符",
            f"the secret must be {SECRET_MIN} to {SECRET_MAX} characters",
        )
    return value


class Webhooks:
    """The admin's operations on subscriptions and deliveries."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # -- subscriptions ----------------------------------------------------------------
    def _counts(self, session: Session, ids: Sequence[int]) -> dict[tuple[int, str], int]:
        d = DELIVERIES.c
        rows = session.execute(
            select(d.subscription_id, d.state, func.count())
            .where(d.subscription_id.in_(ids))
            .group_by(d.subscription_id, d.state)
        ).all()
        return {(row[0], row[1]): int(row[2]) for row in rows}

    def _views(self, session: Session, where: Any = None) -> list[SubscriptionView]:
        s = SUBSCRIPTIONS.c
        query = select(SUBSCRIPTIONS).order_by(s.id)
        if where is not None:
            query = query.where(where)
        rows = session.execute(query).all()
        counts = self._counts(session, [row.id for row in rows]) if rows else {}
        return [
            SubscriptionView(
                id=row.id,
                name=row.name,
                url=row.url,
                kinds=tuple(row.kinds),
                bundles=tuple(row.bundles),
                departments=tuple(row.departments),
                format=row.format,
                active=row.active,
                created_at=row.created_at,
                created_by=row.created_by,
                updated_at=row.updated_at,
                pending=counts.get((row.id, PENDING), 0),
                delivered=counts.get((row.id, "delivered"), 0),
                dead=counts.get((row.id, DEAD), 0),
            )
            for row in rows
        ]

    def _one(self, session: Session, subscription_id: int) -> SubscriptionView:
        found = self._views(session, SUBSCRIPTIONS.c.id == subscription_id)
        if not found:
            raise NotFound(f"没有这个 Webhook (no webhook {subscription_id})")
        return found[0]

    def create(
        self,
        actor: Actor,
        url: str,
        *,
        name: str = "",
        kinds: Sequence[str] = (),
        bundles: Sequence[str] = (),
        departments: Sequence[str] = (),
        format: str = "events",
        secret: str | None = None,
        active: bool = True,
        reservation: Reservation | None = None,
    ) -> CreatedSubscription:
        """Register a receiver; its secret (given or generated) is answered this once.

        ``reservation`` (an ``Idempotency-Key``'s) learns the new id in the same transaction.
        """
        _admin(actor)
        now = self.clock.now()
        chosen = _secret(secret)
        row = {
            "name": name[:NAME_MAX],
            "url": check_url(url),
            "kinds": _names("kinds", kinds, KIND_PATTERN),
            "bundles": _names("bundles", bundles, KEY_PATTERN),
            "departments": _names("departments", departments, KEY_PATTERN),
            "format": _format(format),
            "secret": chosen,
            "active": active,
            "created_at": now,
            "created_by": actor.username,
            "updated_at": now,
        }
        with self.db.write() as session:
            new_id = session.execute(
                SUBSCRIPTIONS.insert().values(**row).returning(SUBSCRIPTIONS.c.id)
            ).scalar_one()
            record_outcome(session, reservation, outcome_ref(OUTCOME, new_id))
            view = self._one(session, new_id)
        return CreatedSubscription(view, chosen)

    def subscriptions(self, actor: Actor) -> list[SubscriptionView]:
        """Every subscription."""
        _admin(actor)
        with self.db.read() as session:
            return self._views(session)

    def get(self, actor: Actor, subscription_id: int) -> SubscriptionView:
        """One subscription."""
        _admin(actor)
        with self.db.read() as session:
            return self._one(session, subscription_id)

    def update(
        self,
        actor: Actor,
        subscription_id: int,
        *,
        url: str | None = None,
        name: str | None = None,
        kinds: Sequence[str] | None = None,
        bundles: Sequence[str] | None = None,
        departments: Sequence[str] | None = None,
        format: str | None = None,
        active: bool | None = None,
    ) -> SubscriptionView:
        """Change what is given (filters apply to events from now on)."""
        _admin(actor)
        values: dict[str, Any] = {"updated_at": self.clock.now()}
        if url is not None:
            values["url"] = check_url(url)
        if name is not None:
            values["name"] = name[:NAME_MAX]
        if kinds is not None:
            values["kinds"] = _names("kinds", kinds, KIND_PATTERN)
        if bundles is not None:
            values["bundles"] = _names("bundles", bundles, KEY_PATTERN)
        if departments is not None:
            values["departments"] = _names("departments", departments, KEY_PATTERN)
        if format is not None:
            values["format"] = _format(format)
        if active is not None:
            values["active"] = active
        with self.db.write() as session:
            self._one(session, subscription_id)
            session.execute(
                update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id).values(**values)
            )
            return self._one(session, subscription_id)

    def rotate_secret(self, actor: Actor, subscription_id: int, secret: str | None = None) -> str:
        """A new secret (given or generated), answered this once; later tries sign with it."""
        _admin(actor)
        chosen = _secret(secret)
        with self.db.write() as session:
            self._one(session, subscription_id)
            session.execute(
                update(SUBSCRIPTIONS)
                .where(SUBSCRIPTIONS.c.id == subscription_id)
                .values(secret=chosen, updated_at=self.clock.now())
            )
        return chosen

    def delete(self, actor: Actor, subscription_id: int) -> None:
        """Remove a subscription and its deliveries (the outbox events stay)."""
        _admin(actor)
        with self.db.write() as session:
            self._one(session, subscription_id)
            session.execute(delete(DELIVERIES).where(DELIVERIES.c.subscription_id == subscription_id))
            session.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id))

    # -- deliveries -------------------------------------------------------------------
    def deliveries(
        self,
        actor: Actor,
        subscription_id: int,
        *,
        state: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[DeliveryView]:
        """A subscription's deliveries in order (ids above ``after_id``), optionally of one state."""
        _admin(actor)
        if state is not None and state not in STATES:
            raise _invalid(
                "state", f"状态须为 {'、'.join(STATES)}", f"state must be one of {', '.join(STATES)}"
            )
        d, e = DELIVERIES.c, EVENTS.c
        with self.db.read() as session:
            self._one(session, subscription_id)
            query = (
                select(DELIVERIES, e.event_id, e.kind, e.case_code)
                .join(EVENTS, e.id == d.event_row_id)
                .where(d.subscription_id == subscription_id, d.id > after_id)
                .order_by(d.id)
                .limit(limit)
            )
            if state is not None:
                query = query.where(d.state == state)
            rows = session.execute(query).all()
        return [
            DeliveryView(
                id=row.id,
                subscription_id=row.subscription_id,
                event_id=row.event_id,
                kind=row.kind,
                case_id=row.case_id,
                case_code=row.case_code,
                state=row.state,
                attempts=row.attempts,
                next_attempt_at=row.next_attempt_at,
                last_status=row.last_status,
                last_error=row.last_error,
                created_at=row.created_at,
                delivered_at=row.delivered_at,
                replays=row.replays,
            )
            for row in rows
        ]

    def _replay(self, session: Session, where: Any) -> int:
        d = DELIVERIES.c
        result = session.execute(
            update(DELIVERIES)
            .where(where, d.state != PENDING)
            .values(
                state=PENDING,
                attempts=0,
                next_attempt_at=self.clock.now(),
                locked_until=None,
                locked_by=None,
                delivered_at=None,
                replays=d.replays + 1,
            )
        )
        return rowcount(result)

    def replay(self, actor: Actor, subscription_id: int, delivery_id: int) -> DeliveryView:
        """Send one delivery again (dead or delivered); a pending one is left as it is."""
        _admin(actor)
        d = DELIVERIES.c
        with self.db.write() as session:
            self._one(session, subscription_id)
            found = session.execute(
                select(d.id).where(d.id == delivery_id, d.subscription_id == subscription_id)
            ).first()
            if found is None:
                raise NotFound(f"没有这个投递 (no delivery {delivery_id})")
            self._replay(session, d.id == delivery_id)
        return self.deliveries(actor, subscription_id, after_id=delivery_id - 1, limit=1)[0]

    def replay_dead(self, actor: Actor, subscription_id: int) -> int:
        """Send every dead delivery of the subscription again; how many."""
        _admin(actor)
        d = DELIVERIES.c
        with self.db.write() as session:
            self._one(session, subscription_id)
            return self._replay(session, (d.subscription_id == subscription_id) & (d.state == DEAD))
