"""The transactional outbox: every event of the spine, and its deliveries, in the change's transaction.

``record`` is a spine subscriber of every kind (``engine.subscribers`` registers it). It
only notes the event on the session; just before the commit (a ``before_commit``
listener, like the spine's audit lines) the transaction's events are written in one
INSERT into ``outbox_events``, and for each event one ``webhook_deliveries`` row per
active subscription whose filters take it, in one more INSERT. A rollback drops them with
the change: what is in the outbox happened, and everything that happened is in it.

Writing at the commit rather than at each ``emit`` batches the rows and reads the case as
the transaction leaves it (the case code assigned after ``Submitted`` is emitted is in
the row). Each event gets a fresh uuid, the id receivers de-duplicate by.

What an event row says: the kind, the time, the case id and code, the bundle, the
department and item where the event has them (a task's event names its item; its
department comes from the task row when the event does not carry it), the actor and
the audited detail (``Event.detail()``: never a field marked UNAUDITED).

After a commit that wrote deliveries, ``wakeup`` is set, so a delivery loop in this
process sends at once instead of at its next poll.

May import: ``engine.storage``, ``engine.integration``.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from engine.integration import banjian
from engine.storage.case_facts import CaseFacts, noted
from engine.storage.models import Case, Deployment, WorkItem, table_of
from engine.storage.outbox_tables import OutboxEvent, WebhookDelivery, WebhookSubscription
from engine.storage.prepared import Prepared
from engine.storage.spine import Event

_PENDING = "onething.outbox"
_WROTE = "onething.outbox_wrote"
EVENTS = table_of(OutboxEvent)
DELIVERIES = table_of(WebhookDelivery)
SUBSCRIPTIONS = table_of(WebhookSubscription)
EVENT_INSERT = Prepared(insert(EVENTS))
EVENT_INSERT_RETURNING = insert(EVENTS).returning(EVENTS.c.id, sort_by_parameter_order=True)
DELIVERY_INSERT = insert(DELIVERIES)
# Built once and run on the session's driver connection (``Prepared``: no ORM execution, no
# autoflush, the flush before the outbox is written has run already): every transaction that
# changes a case runs them.
_SUBSCRIPTIONS_ACTIVE = Prepared(
    select(
        SUBSCRIPTIONS.c.id,
        SUBSCRIPTIONS.c.kinds,
        SUBSCRIPTIONS.c.bundles,
        SUBSCRIPTIONS.c.departments,
        SUBSCRIPTIONS.c.format,
    )
    .where(SUBSCRIPTIONS.c.active.is_(True))
    .order_by(SUBSCRIPTIONS.c.id)
)
_CASES_TABLE = table_of(Case)
_CASE_FACTS = select(
    _CASES_TABLE.c.id,
    _CASES_TABLE.c.code,
    _CASES_TABLE.c.bundle_key,
    _CASES_TABLE.c.version,
    _CASES_TABLE.c.deployment_id,
).where(_CASES_TABLE.c.id.in_(bindparam("ids", expanding=True)))
_TASKS_TABLE = table_of(WorkItem)
_TASK_FACTS = select(_TASKS_TABLE.c.id, _TASKS_TABLE.c.department, _TASKS_TABLE.c.item_key).where(
    _TASKS_TABLE.c.id.in_(bindparam("ids", expanding=True))
)
EVENTS_FORMAT = "events"
FORMATS = (EVENTS_FORMAT, banjian.FORMAT)
PENDING = "pending"

# Set after a commit that queued deliveries (see the module docstring).
wakeup = threading.Event()


def record(session: Session, event: Event) -> None:
    """The spine subscriber: note ``event`` for the outbox of this transaction."""
    session.info.setdefault(_PENDING, []).append(event)


@dataclass(frozen=True)
class BundleFacts:
    """What the outbox needs of a deployed bundle version (deployments never change: cached)."""

    key: str
    name: str
    audience: str
    items: tuple[banjian.BundleItem, ...]

    @property
    def departments(self) -> frozenset[str]:
        """Every department with an item in the bundle."""
        return frozenset(item.department for item in self.items)


# Per database (keyed by its connection pool: ids are only unique within one database).
_BUNDLES: weakref.WeakKeyDictionary[Any, OrderedDict[int, BundleFacts]] = weakref.WeakKeyDictionary()
_BUNDLES_KEPT = 512
_BUNDLES_LOCK = threading.Lock()


def _bundle(session: Session, deployment_id: int) -> BundleFacts | None:
    pool = session.connection().engine.pool
    with _BUNDLES_LOCK:
        cache = _BUNDLES.setdefault(pool, OrderedDict())
        found = cache.get(deployment_id)
    if found is not None:
        return found
    row = session.get(Deployment, deployment_id)
    if row is None:
        return None
    manifest = row.manifest
    items = tuple(
        banjian.BundleItem(
            key=str(item["key"]),
            code=str(item.get("code") or item["key"]),
            name=str((item.get("name") or {}).get("zh", item["key"])),
            department=str(item["department"]),
            time_limit_days=float(item.get("time_limit_days", 0)),
        )
        for item in manifest.get("items", ())
    )
    found = BundleFacts(
        key=row.key,
        name=str((manifest.get("name") or {}).get("zh", row.key)),
        audience=str(manifest.get("audience", "enterprise")),
        items=items,
    )
    with _BUNDLES_LOCK:
        cache[deployment_id] = found
        while len(cache) > _BUNDLES_KEPT:
            cache.popitem(last=False)
    return found


@dataclass(frozen=True)
class _Subscription:
    id: int
    kinds: frozenset[str]
    bundles: frozenset[str]
    departments: frozenset[str]
    format: str

    def takes(self, kind: str, bundle: str | None, departments: frozenset[str]) -> bool:
        if self.format == banjian.FORMAT and kind not in banjian.KINDS:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        if self.bundles and bundle not in self.bundles:
            return False
        return not self.departments or bool(self.departments & departments)


def _subscriptions(session: Session) -> list[_Subscription]:
    rows = _SUBSCRIPTIONS_ACTIVE.rows(session)
    return [
        _Subscription(
            row.id, frozenset(row.kinds), frozenset(row.bundles), frozenset(row.departments), row.format
        )
        for row in rows
    ]


def _field(event: Event, name: str) -> str | None:
    value = getattr(event, name, None)
    return value if isinstance(value, str) else None


@dataclass
class _Pending:
    event: Event
    row: dict[str, Any]
    case: CaseFacts | None
    bundle: BundleFacts | None
    departments: frozenset[str]


def _loaded(session: Session, model: type[Any], ids: Iterable[int]) -> tuple[dict[int, Any], list[int]]:
    """The rows of ``ids`` already in the session (no query), and the ids that are not."""
    found: dict[int, Any] = {}
    missing: list[int] = []
    for ident in ids:
        row = session.identity_map.get(identity_key(model, ident))
        if row is not None:
            found[ident] = row
        else:
            missing.append(ident)
    return found, missing


def _cases(session: Session, ids: set[int]) -> dict[int, CaseFacts]:
    """The facts of these cases: from the session's loaded rows, then what the change noted
    (``engine.storage.case_facts``), the others in one narrow query."""
    loaded, missing = _loaded(session, Case, ids)
    facts = {i: CaseFacts(c.id, c.code, c.bundle_key, c.version, c.deployment_id) for i, c in loaded.items()}
    unknown: list[int] = []
    for ident in missing:
        known = noted(session, ident)
        if known is not None:
            facts[ident] = known
        else:
            unknown.append(ident)
    if unknown:
        for row in session.connection().execute(_CASE_FACTS, {"ids": unknown}):
            facts[row.id] = CaseFacts(row.id, row.code, row.bundle_key, row.version, row.deployment_id)
    return facts


def _tasks(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    """(department, item) of these tasks, loaded rows first, the others in one narrow query."""
    loaded, missing = _loaded(session, WorkItem, ids)
    tasks = {i: (w.department, w.item_key) for i, w in loaded.items()}
    if missing:
        for row in session.connection().execute(_TASK_FACTS, {"ids": missing}):
            tasks[row.id] = (row.department, row.item_key)
    return tasks


def _prepare(
    session: Session, event: Event, cases: dict[int, CaseFacts], tasks: dict[int, tuple[str, str]]
) -> _Pending:
    case = cases.get(event.case_id) if event.case_id is not None else None
    bundle = _bundle(session, case.deployment_id) if case is not None else None
    department = _field(event, "department")
    item = _field(event, "item")
    if department is None and event.work_item_id is not None and event.work_item_id in tasks:
        department, task_item = tasks[event.work_item_id]
        item = item or task_item
    bundle_key = case.bundle_key if case is not None else _field(event, "bundle")
    event_id = str(uuid.uuid4())
    payload = {
        "id": event_id,
        "kind": event.KIND,
        "at": event.at.isoformat(),
        "case_id": event.case_id,
        "case_code": case.code if case is not None else None,
        "bundle": bundle_key,
        "version": case.version if case is not None else None,
        "department": department,
        "item": item,
        "actor": event.actor,
        "task_id": event.work_item_id,
        "detail": event.detail(),
    }
    row = {
        "event_id": event_id,
        "kind": event.KIND,
        "at": event.at,
        "case_id": event.case_id,
        "case_code": payload["case_code"],
        "bundle": bundle_key,
        "department": department,
        "item": item,
        "payload": payload,
        "created_at": event.at,
    }
    # A department's subscription takes its own tasks' events, and the case-wide events
    # (submitted, completed, ...) of the bundles it has an item in.
    if department is not None:
        departments = frozenset({department})
    else:
        departments = bundle.departments if bundle is not None else frozenset()
    return _Pending(event, row, case, bundle, departments)


def _finished_items(session: Session, case_id: int) -> dict[str, dict[str, Any]]:
    """The items a case finished, with the clerks' (or systems') decisions (the credit code ...)."""
    w = table_of(WorkItem).c
    rows = session.execute(
        select(w.item_key, w.decision).where(w.case_id == case_id, w.state == "completed").order_by(w.id)
    ).all()
    return {row.item_key: dict(row.decision or {}) for row in rows}


def _banjian_body(session: Session, pending: _Pending) -> dict[str, Any] | None:
    facts_of, bundle = pending.case, pending.bundle
    case = session.get(Case, facts_of.id) if facts_of is not None else None
    if case is None or bundle is None:
        return None
    items: Sequence[banjian.BundleItem] = bundle.items
    data: dict[str, Any] = dict(case.data)
    if pending.event.KIND != banjian.ACCEPTED:  # 办结: the items done, and what they decided
        done = _finished_items(session, case.id)
        items = [item for item in bundle.items if item.key in done] or bundle.items
        for decision in done.values():
            data.update(decision)
    facts = banjian.CaseFacts(
        case_id=case.id,
        code=case.code,
        bundle=bundle.key,
        bundle_name=bundle.name,
        audience=bundle.audience,
        items=items,
        data=data,
        created_at=case.created_at,
        finished_at=case.finished_at,
        due_at=case.due_at,
    )
    return banjian.record(pending.row["event_id"], pending.event.KIND, pending.event.at, facts)


def write(session: Session, events: Iterable[Event]) -> int:
    """Write ``events`` to the outbox with their deliveries; how many deliveries were queued."""
    events = list(events)
    if not events:
        return 0
    cases = _cases(session, {e.case_id for e in events if e.case_id is not None})
    wanting_task = {
        e.work_item_id for e in events if e.work_item_id is not None and _field(e, "department") is None
    }
    tasks = _tasks(session, wanting_task) if wanting_task else {}
    prepared = [_prepare(session, event, cases, tasks) for event in events]
    subscriptions = _subscriptions(session)
    wanted: list[tuple[int, _Subscription]] = [
        (index, subscription)
        for index, pending in enumerate(prepared)
        for subscription in subscriptions
        if subscription.takes(pending.event.KIND, pending.row["bundle"], pending.departments)
    ]
    rows = [pending.row for pending in prepared]
    if not wanted:
        EVENT_INSERT.many(session, rows)
        return 0
    ids: list[int] = list(session.scalars(EVENT_INSERT_RETURNING, rows))
    deliveries: list[dict[str, Any]] = []
    for index, subscription in wanted:
        pending = prepared[index]
        body = _banjian_body(session, pending) if subscription.format == banjian.FORMAT else None
        if subscription.format == banjian.FORMAT and body is None:
            continue
        deliveries.append(
            {
                "subscription_id": subscription.id,
                "event_row_id": ids[index],
                "case_id": pending.event.case_id,
                "state": PENDING,
                "body": body,
                "attempts": 0,
                "next_attempt_at": pending.event.at,
                "last_error": "",
                "created_at": pending.event.at,
                "replays": 0,
            }
        )
    if deliveries:
        session.execute(DELIVERY_INSERT, deliveries)
    return len(deliveries)


def _before_commit(session: Session) -> None:
    events: list[Event] | None = session.info.pop(_PENDING, None)
    if events:
        session.flush()  # a new case (or task) an event names must be readable first
        if write(session, events):
            session.info[_WROTE] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        wakeup.set()


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_WROTE, None)


sa_event.listen(Session, "before_commit", _before_commit)
sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_rollback", _after_rollback)
