"""The event spine: what happened to a case, written to its audit trail and handed to subscribers.

Every change to a case says what happened by emitting one typed event (the kinds are in
``engine.cases.events``) on the session of the transaction that made the change. Emitting
does two things, both inside that transaction:

- the event's audit line joins the session's pending lines; they are inserted in one
  statement when the case store saves, or at the latest just before the commit. The audit
  trail (``case_events``) stays the complete, append-only record, in the order emitted;
- every subscriber of the event's kind runs at once, on the same session. Read models and
  due dates that must agree with the case are written by subscribers, so a rollback undoes
  the change, its audit lines and every projection together, and a commit keeps all three.

The spine belongs to the ``Database`` (``Database.write`` puts it on each session), so the
rules that change cases (the case facade, the SLA clock, feedback) reach it without knowing
who listens. Subscribers are registered in one place (``engine.subscribers``); nothing on
the case path imports them.

May import: ``engine.storage.models`` only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.orm import Session

from engine.storage.models import CaseEvent, table_of
from engine.storage.prepared import Prepared

# Built once and run on the driver (``Prepared``): every action writes lines.
AUDIT_INSERT = Prepared(insert(table_of(CaseEvent)))
_PENDING = "onething.pending_audit"
_SPINE = "onething.spine"
_DISPATCHING = "onething.dispatching"  # events emitted by subscribers, waiting their turn


def json_ready(value: Any) -> Any:
    """Task data made plain JSON (case rows, audit details, APIs): dates as ISO text, Decimals as str."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# ``field(metadata=UNAUDITED)``: a field subscribers read that the audit line leaves out.
UNAUDITED: dict[str, Any] = {"audit": False}


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened to a case (or, with ``case_id`` None, to no case in particular).

    Subclasses name their ``KIND`` (the audit line's ``kind``) and declare the detail as
    fields; ``detail()`` is those fields in declaration order, renamed where a field's
    metadata says ``audit_name`` (``from`` is no Python name) and without the fields marked
    ``UNAUDITED``. An event without a case is handed to subscribers but has no audit line.
    """

    KIND: ClassVar[str]
    case_id: int | None
    at: datetime
    actor: str = "system"
    work_item_id: int | None = None

    def detail(self) -> dict[str, Any]:
        """The audit line's detail: this event's own fields, as plain JSON."""
        return {
            f.metadata.get("audit_name", f.name): json_ready(getattr(self, f.name))
            for f in _detail_fields(type(self))
        }

    def audit_line(self) -> dict[str, Any]:
        """The row this event appends to ``case_events``."""
        return {
            "case_id": self.case_id,
            "at": self.at,
            "actor": self.actor,
            "kind": self.KIND,
            "work_item_id": self.work_item_id,
            "detail": self.detail(),
        }


_BASE_FIELDS = frozenset({"case_id", "at", "actor", "work_item_id"})
_DETAIL_FIELDS: dict[type[Event], tuple[Any, ...]] = {}


def _detail_fields(cls: type[Event]) -> tuple[Any, ...]:
    found = _DETAIL_FIELDS.get(cls)
    if found is None:
        found = tuple(f for f in fields(cls) if f.name not in _BASE_FIELDS and f.metadata.get("audit", True))
        _DETAIL_FIELDS[cls] = found
    return found


Handler = Callable[[Session, Any], None]


@dataclass
class _Subscription:
    name: str
    handler: Handler
    kinds: tuple[type[Event], ...]  # empty: every kind


class Spine:
    """Subscribers by event kind, run in the emitting transaction in the order they subscribed."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []
        self._by_kind: dict[type[Event], tuple[Handler, ...]] = {}

    def subscribe(self, name: str, handler: Handler, *kinds: type[Event]) -> None:
        """Run ``handler(session, event)`` for each event of ``kinds`` (all kinds when none given).

        ``name`` identifies the subscriber: subscribing a name again replaces its handler,
        so two facades sharing one database do not record everything twice.
        """
        self.unsubscribe(name)
        self._subscriptions.append(_Subscription(name, handler, kinds))
        self._by_kind.clear()

    def unsubscribe(self, name: str) -> None:
        """Stop handing events to the subscriber ``name`` (nothing if it is not subscribed)."""
        self._subscriptions = [s for s in self._subscriptions if s.name != name]
        self._by_kind.clear()

    def subscribers(self) -> list[str]:
        """The names of the subscribers, in the order they run."""
        return [s.name for s in self._subscriptions]

    def _handlers(self, kind: type[Event]) -> tuple[Handler, ...]:
        found = self._by_kind.get(kind)
        if found is None:
            found = tuple(s.handler for s in self._subscriptions if not s.kinds or issubclass(kind, s.kinds))
            self._by_kind[kind] = found
        return found

    def emit(self, session: Session, event: Event) -> None:
        """Record ``event`` in the session's transaction and run its subscribers now.

        An event a subscriber emits (the SLA clock's pause, emitted while it follows a
        supplement) is handed out once the event being handed out has reached every
        subscriber: each subscriber sees a transaction's events in the order of their audit
        lines, whichever order the subscribers were registered in.
        """
        if event.case_id is not None:
            session.info.setdefault(_PENDING, []).append(event.audit_line())
        waiting: deque[Event] | None = session.info.get(_DISPATCHING)
        if waiting is not None:
            waiting.append(event)
            return
        waiting = session.info[_DISPATCHING] = deque([event])
        try:
            while waiting:
                current = waiting.popleft()
                for handler in self._handlers(type(current)):
                    handler(session, current)
        finally:
            del session.info[_DISPATCHING]


def attach(session: Session, spine: Spine) -> None:
    """Make ``spine`` the one that ``emit`` uses on this session (``Database.write`` does this)."""
    session.info[_SPINE] = spine


def emit(session: Session, event: Event) -> None:
    """Emit ``event`` on the spine of the session's database (see ``Spine.emit``)."""
    spine = session.info.get(_SPINE)
    if spine is None:
        raise RuntimeError("events are emitted only on sessions of Database.write()")
    spine.emit(session, event)


def write_pending(session: Session) -> None:
    """Insert the audit lines emitted so far in this transaction, in one statement, in order."""
    lines = session.info.pop(_PENDING, None)
    if lines:
        AUDIT_INSERT.many(session, lines)


def _before_commit(session: Session) -> None:
    # ``flush`` first: an ORM row an event names (a new case) must exist before its line.
    if session.info.get(_PENDING):
        session.flush()
        write_pending(session)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)  # the lines of a rolled-back change never reach the trail


sa_event.listen(Session, "before_commit", _before_commit)
sa_event.listen(Session, "after_rollback", _after_rollback)
