"""Durable case state: lock a case, restore its workflow, save it with its task rows and events.

One transaction holds the case row lock (``SELECT ... FOR NO KEY UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serializes writers), the workflow state, the work-item rows and the
audit lines of the events emitted on the way (``engine.storage.spine``), so they always
agree. ``save`` announces new task rows (``TaskCreated``) once they have ids and writes the
action's audit lines in one statement. ``state_version`` is SQLAlchemy's version counter:
an update that lost a race fails instead of overwriting.

Every new task row is routed to an office (``WorkItem.division``): from the item's division
(its own field, a fixed code, or the case's division; ``Manifest.item_division``) up to the
level the item is decided at, to the nearest division with an office of its department
(``engine.regions``). So one bundle's items may run in two divisions (多地联办).

Restoring a workflow costs more than running a task, so each process keeps recently used
workflows deserialized (``engine.cases.workflow_cache``, bounded in entries and in bytes),
keyed by case id and ``state_version``; an entry is used only while the database still holds
that version, and is taken out while a transaction mutates it.

May import: ``engine.cases.events``, ``engine.cases.states``, ``engine.cases.workflow_cache``,
``engine.bpmn``, ``engine.regions``, ``engine.storage``, ``engine.time``, ``engine.errors``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from engine.bpmn.definitions import BundleDefinition
from engine.bpmn.deployments import Deployments
from engine.bpmn.manifest import Item
from engine.bpmn.runtime import Runner, TaskKind
from engine.bpmn.serialization import WorkflowCodec
from engine.cases.events import IncidentResolved, TaskCancelled, TaskCreated
from engine.cases.message_items import sync_message_items
from engine.cases.message_waits import sync_message_waits
from engine.cases.states import OPEN_WORK_STATES, CaseStatus, Outcome, WorkItemState
from engine.cases.workflow_cache import WorkflowCache, accounted_size
from engine.errors import CaseNotFound
from engine.regions.service import Regions
from engine.storage.direct_rows import attach
from engine.storage.direct_rows import handle as write_directly
from engine.storage.models import Case, Deployment, WorkItem, table_of
from engine.storage.prepared import Prepared
from engine.storage.spine import emit, json_ready, write_pending
from engine.time.clock import Clock

DueFor = Any  # Callable[[float, datetime], datetime]; kept loose to accept bound methods

# A save's flush (the case row, its decided and new task rows) runs on prepared statements.
write_directly(Case, WorkItem)

CASES = table_of(Case)
WORK_ITEMS = table_of(WorkItem)
# Built once and run on the driver (``Prepared``), the rows held by the session as the ORM's
# (``engine.storage.direct_rows``): every action on a case runs the first two.
# The state text (the largest column) is read only when the cache cannot serve it.
# A case's row without its state: what an action locks, and what a case page reads.
CASE_WITHOUT_STATE = select(*(c for c in CASES.c if c.key != "state")).where(CASES.c.id == bindparam("case"))
_LOCK_CASE = Prepared(CASE_WITHOUT_STATE.with_for_update(key_share=True))
# What every action needs, read at once: the open rows, and the rows returned in the case's
# current round (held until the applicant's supplement). A long case's finished rows (a
# multi-instance step over 200 entries leaves 200) are read only where a rule asks for them.
# Read after the lock, over anything the session saw before it: every change to a task row
# goes through its locked case (a claim's conditional update only moves an open row), so these
# are the rows as they now stand.
_LIVE_ROWS = Prepared(
    select(WORK_ITEMS)
    .where(
        WORK_ITEMS.c.case_id == bindparam("case"),
        or_(
            WORK_ITEMS.c.state.in_(OPEN_WORK_STATES),
            and_(WORK_ITEMS.c.outcome == Outcome.RETURN, WORK_ITEMS.c.round == bindparam("round")),
        ),
    )
    .order_by(WORK_ITEMS.c.id)
)
CASE_TASK_ROWS = Prepared(
    select(WORK_ITEMS).where(WORK_ITEMS.c.case_id == bindparam("case")).order_by(WORK_ITEMS.c.id)
)


@dataclass
class OpenCase:
    """A case locked inside a write transaction, with its restored workflow."""

    session: Session
    case: Case
    deployment: Deployment
    definition: BundleDefinition
    workflow: BpmnWorkflow
    now: datetime
    # Task rows queued by this action, announced (``task_created``) by ``save`` once they have ids.
    created: list[WorkItem] = field(default_factory=list)
    # The open rows and the current round's returned ones, read when the case was locked;
    # new rows join them (``add_rows``).
    live: list[WorkItem] = field(default_factory=list)
    synced: bool = False
    # Work that must wait until this transaction has committed (e.g. follow-on cases).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # The message names the workflow waited for when opened (what ``message_waits`` holds).
    waits: frozenset[str] = frozenset()
    # The workflow's accounted size in the cache (``accounted_size`` of its last saved state text).
    state_size: int = 0
    # Every task row, read on first use of ``rows`` (None until then).
    _every: list[WorkItem] | None = None

    @property
    def rows(self) -> list[WorkItem]:
        """Every task row of the case, finished ones too, read once on first use.

        Its cost grows with the case's history, so the paths every action takes use ``live``.
        """
        if self._every is None:
            self.session.flush()  # a row changed in memory by this action is read back as it is now
            found = CASE_TASK_ROWS.rows(self.session, {"case": self.case.id})
            self._every = attach(self.session, WorkItem, found)
        return self._every

    def add_rows(self, created: list[WorkItem]) -> None:
        """Rows this action queued join the case's rows.

        ``rows`` may have been read after they were added to the session (its autoflush wrote
        them first, e.g. while routing the next new row by a decision), so each joins once.
        """
        self.live = [*self.live, *created]
        if self._every is not None:
            known = {id(row) for row in self._every}
            self._every = [*self._every, *(row for row in created if id(row) not in known)]

    def row(self, work_item_id: int) -> WorkItem | None:
        """The case's task row of this id (a live one without reading the others)."""
        found = next((r for r in self.live if r.id == work_item_id), None)
        return found or next((r for r in self.rows if r.id == work_item_id), None)


class CaseStore:
    """Loads, saves and syncs cases; the only place that writes workflow state."""

    def __init__(
        self,
        deployments: Deployments,
        runner: Runner,
        clock: Clock,
        due_for: DueFor,
        cache: WorkflowCache,
        *,
        regions: Regions,
    ) -> None:
        self.deployments = deployments
        self.regions = regions
        self.runner = runner
        self.clock = clock
        self.due_for = due_for
        self.codec = WorkflowCodec()
        self.cache = cache
        # Notified after a commit that made an external task fetchable in this process:
        # long-polling fetches wait on it instead of asking the database in a tight loop.
        self.external_signal = threading.Condition()

    def notify_external(self) -> None:
        """Wake the fetches waiting for external tasks (call after the commit that made one fetchable)."""
        with self.external_signal:
            self.external_signal.notify_all()

    def open(self, session: Session, case_id: int) -> OpenCase:
        """Lock the case row and restore its workflow (from the cache when still current)."""
        session.flush()  # what the session holds is written before the rows are read over it
        locked = _LOCK_CASE.one_or_none(session, {"case": case_id})
        if locked is None:
            raise CaseNotFound(f"没有这个办件 (no case {case_id})")
        (case,) = attach(session, Case, [locked])
        deployment = self.deployments.row(session, case.deployment_id)
        definition = self.deployments.definition(deployment)
        cached = self.cache.take(case.id, case.state_version)
        if cached is None:
            text = case.state
            restored = self.codec.loads(text, definition.spec, definition.subprocess_specs)
            workflow = self.runner.attach(restored)
            size = accounted_size(len(text))
        else:
            workflow, size = cached
        live = attach(session, WorkItem, _LIVE_ROWS.rows(session, {"case": case.id, "round": case.round}))
        waits = frozenset(self.runner.waiting_messages(workflow))
        return OpenCase(
            session,
            case,
            deployment,
            definition,
            workflow,
            self.clock.now(),
            live=live,
            waits=waits,
            state_size=size,
        )

    def create(
        self,
        session: Session,
        deployment: Deployment,
        applicant: str,
        data: dict[str, Any],
        materials: dict[str, str],
        workflow: BpmnWorkflow,
        *,
        division: str | None = None,
    ) -> OpenCase:
        """Insert a new case for a workflow that has just started, decided in ``division``."""
        now = self.clock.now()
        case = Case(
            deployment_id=deployment.id,
            division=division,
            bundle_key=deployment.key,
            version=deployment.version,
            applicant=applicant,
            status=CaseStatus.RUNNING,
            data=json_ready(data),
            materials=dict(materials),
            state="{}",
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        session.flush()
        return OpenCase(session, case, deployment, self.deployments.definition(deployment), workflow, now)

    def save(self, oc: OpenCase) -> None:
        """Write the workflow state, sync task rows and status; flushes inside the transaction."""
        if not oc.synced:
            self.sync_work_items(oc)
        case = oc.case
        case.state = self.codec.dumps(oc.workflow)
        oc.state_size = accounted_size(len(case.state))
        case.next_timer_at = self.runner.next_timer(oc.workflow)
        case.updated_at = oc.now
        oc.waits = sync_message_waits(
            oc.session, case.id, oc.waits, self.runner.waiting_messages(oc.workflow)
        )
        oc.session.flush()  # one flush for the case and its task rows; new rows get their ids
        for row in oc.created:
            emit(
                oc.session,
                TaskCreated(
                    case_id=case.id,
                    at=oc.now,
                    work_item_id=row.id,
                    item=row.item_key,
                    department=row.department,
                    due_at=row.due_at,
                ),
            )
        oc.created.clear()
        # The action's lines in one statement: an action emits several (approved, certificate
        # issued, task created ...), and one round trip instead of one per line is a large
        # part of a task action's cost.
        write_pending(oc.session)

    def remember(self, oc: OpenCase) -> None:
        """After a successful commit: keep the workflow warm for the next action on this case."""
        self.cache.put(oc.case.id, oc.case.state_version, oc.workflow, oc.state_size)

    def sync_work_items(self, oc: OpenCase) -> None:
        """Make the task rows match the workflow: new ready tasks get rows, vanished ones cancel.

        A ready user task queues for its department's clerks; a ready external (service)
        task waits for the department's system, by its topic and priority, with the same
        time limit as a clerk's task. A task a clerk returned stays ready in the workflow
        but gets no new row until the applicant's supplement starts the next round. A
        receive task bound to an item that a department system finishes by a message keeps
        a row of kind "message" while it waits (``engine.cases.message_items``).
        """
        case = oc.case
        route = _Router(self.regions, oc)
        waiting = sync_message_items(oc, self.due_for, route.item)  # may add rows (``oc.add_rows``)
        rows = oc.live
        open_rows = {r.spiff_id: r for r in rows if r.state in OPEN_WORK_STATES}
        held = {r.spiff_id for r in rows if r.outcome == Outcome.RETURN and r.round == case.round}
        ready = {t.spiff_id: t for t in self.runner.ready_tasks(oc.workflow)}
        manifest = oc.definition.manifest
        created: list[WorkItem] = []
        if case.status in (CaseStatus.RUNNING, CaseStatus.AWAITING_APPLICANT):
            for spiff_id, task in ready.items():
                if spiff_id in open_rows or spiff_id in held:
                    continue
                item = manifest.item_for_task(task.name)
                limit = item.time_limit_days if item else 1.0
                department = (item.department if item else None) or task.lane or "service-center"
                external = task.kind == TaskKind.EXTERNAL
                row = WorkItem(
                    case_id=case.id,
                    deployment_id=case.deployment_id,
                    bundle_key=case.bundle_key,
                    item_key=item.key if item else task.name,
                    task_name=task.name,
                    spiff_id=spiff_id,
                    department=department,
                    division=route(item, department),
                    state=WorkItemState.READY,
                    kind=task.kind.value,
                    topic=(task.topic or department) if external else None,
                    priority=task.priority if external else 0,
                    round=case.round,
                    created_at=oc.now,
                    due_at=self.due_for(limit, oc.now),
                )
                oc.session.add(row)
                created.append(row)
                if external and self.notify_external not in oc.after_commit:
                    oc.after_commit.append(self.notify_external)
        oc.created.extend(created)
        oc.add_rows(created)
        oc.synced = True
        for spiff_id, row in open_rows.items():
            if spiff_id not in ready and spiff_id not in waiting:
                was_incident = row.state == WorkItemState.FAILED
                row.state = WorkItemState.CANCELLED
                row.completed_at = oc.now
                emit(
                    oc.session,
                    TaskCancelled(case_id=case.id, at=oc.now, work_item_id=row.id, item=row.item_key),
                )
                if was_incident:  # the case no longer waits for it: the supervisors' entry closes
                    emit(
                        oc.session,
                        IncidentResolved(
                            case_id=case.id,
                            at=oc.now,
                            work_item_id=row.id,
                            item=row.item_key,
                            department=row.department,
                            how="cancelled",
                        ),
                    )


class _Router:
    """Routes the new task rows of one save to their offices (``Regions.route``).

    The data an item's division field is read from is the application with the decisions
    approved so far (a decision may name the division of a later item), built once and only
    when an item takes its division from a field.
    """

    def __init__(self, regions: Regions, oc: OpenCase) -> None:
        self.regions = regions
        self.oc = oc
        self._data: dict[str, Any] | None = None

    def data(self) -> dict[str, Any]:
        """The case's answers with the decisions of its approved tasks."""
        if self._data is None:
            data = dict(self.oc.case.data)
            for row in self.oc.rows:
                if row.outcome == Outcome.APPROVE:
                    data.update(row.decision)
            self._data = data
        return self._data

    def __call__(self, item: Item | None, department: str) -> str:
        """The office division of a task of ``department`` performing ``item`` (None: no item binds it)."""
        case_division = self.oc.case.division
        if item is None:
            return self.regions.route(department, case_division)
        source = item.division
        data = self.data() if source is not None and source.field is not None else {}
        division = self.oc.definition.manifest.item_division(item, data, case_division)
        return self.regions.route(department, division, item.decided_at)

    def item(self, item: Item) -> str:
        """The office division of a task performing ``item`` in its own department."""
        return self(item, item.department)
