"""External tasks: a department's own system fetches, locks and completes its tasks (Camunda 7 style).

A BPMN service task of a bundle is an external task (``engine.bpmn``): when a case reaches
it, the case store gives it a work-item row of kind ``external`` with its topic and
priority. The department's system account (``Role.SYSTEM``, bound to one department)
fetches and locks tasks of its topics; each lock has an owner (``worker_id``) and an
expiry. Semantics follow Camunda 7.20's external task service:

- fetch-and-lock takes tasks that are ready, not locked (or whose lock expired) and have
  retries left; two workers never hold one task (a conditional ``UPDATE`` per task after
  ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write transaction
  serializes fetches);
- complete, failure and BPMN error need the worker that holds the lock (an expired lock
  nobody else took still counts, as in Camunda); a task whose lock another worker took is
  refused with ``ExternalTaskLockLost``; completing twice with the same lock is harmless;
- a failure sets the retries left and holds the task back for ``retryTimeout``; retries
  reaching 0 make an incident (state ``failed``), resolved by setting retries again or by
  a supervisor handing the task to the department's clerks as an ordinary human task.

Completing is a clerk's approval by another hand: the same path (``TaskActions._approve``)
in the case's locked transaction, ``TaskApproved`` with the system account as actor. The
variables a system is handed are the item's department view of the case, built where a
clerk's is (``Queues._department_view``).

May import: ``engine.cases``, ``engine.bpmn``, ``engine.people``, ``engine.storage``,
``engine.errors``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from engine.bpmn.runtime import TaskKind
from engine.cases.events import (
    BpmnErrorThrown,
    ExternalTaskFailed,
    HandedToClerk,
    IncidentRaised,
    IncidentResolved,
)
from engine.cases.external_views import ExternalTaskView, TopicRequest
from engine.cases.queues import Queues
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.cases.store import OpenCase
from engine.cases.task_actions import TASK_OFFICE, TaskActions
from engine.cases.task_events import task_event_fields
from engine.cases.views import Label, WorkItemView
from engine.cases.visibility import TaskReach, may_see_as_system, may_supervise_task, task_reach
from engine.errors import (
    CaseSuspendedError,
    ExternalTaskLockLost,
    ExternalTaskNotFound,
    ExternalTaskNotLocked,
    InvalidInput,
    NotAllowed,
    Problem,
)
from engine.people.actors import Actor, Role
from engine.storage.db import rowcount
from engine.storage.direct_rows import attach
from engine.storage.models import Case, Deployment, Material, WorkItem, table_of
from engine.storage.prepared import Prepared
from engine.storage.spine import emit, json_ready

EXTERNAL = TaskKind.EXTERNAL.value
WORK_ITEMS = table_of(WorkItem)
# States in which an external task exists for its system (Camunda deletes finished ones).
LIVE_STATES = (WorkItemState.READY, WorkItemState.FAILED)


def _free(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """Not locked, or locked by a lock that has expired."""
    return or_(WorkItem.lock_expires_at.is_(None), WorkItem.lock_expires_at <= now)


def _fetchable(now: datetime | ColumnElement[datetime]) -> tuple[ColumnElement[bool], ...]:
    """What fetch-and-lock may take: ready external tasks, free, with retries left (or never failed)."""
    return (
        WorkItem.kind == EXTERNAL,
        WorkItem.state == WorkItemState.READY,
        _free(now),
        or_(WorkItem.retries.is_(None), WorkItem.retries > 0),
        # Camunda 7: a suspended instance's external tasks are suspended; fetching skips them.
        ~exists().where(Case.id == WorkItem.case_id, Case.status == CaseStatus.SUSPENDED.value),
    )


def _of_case_keyed(
    key: str | BindParameter[str], case_id: int | BindParameter[int] | None
) -> ColumnElement[bool]:
    """Task rows of the case whose business key is ``key``: its code, or ``case_id`` (the key read
    as a case id, None when it cannot be one): a case without a code is keyed by its id."""
    by_id = [Case.id == case_id] if case_id is not None else []
    return WorkItem.case_id.in_(select(Case.id).where(or_(Case.code == key, *by_id)))


def _is_case_id(business_key: str) -> bool:
    """Whether a business key may also be a case id (a case without a code is keyed by its id)."""
    return business_key.isdigit() and len(business_key) < 19


# A fetch's shape: highest priority first or not, and per topic asked for (in name order)
# whether it names a business key and whether that key may be a case id.
_FetchShape = tuple[bool, tuple[tuple[bool, bool], ...]]
_CANDIDATES: dict[_FetchShape, Prepared] = {}
_CANDIDATES_LOCK = threading.Lock()
_NOW: BindParameter[datetime] = bindparam("now")
# Built once and run on the driver (``Prepared``): the lock of one candidate, taken only if still free.
_LOCK_TASK = Prepared(
    update(WORK_ITEMS)
    .where(WORK_ITEMS.c.id == bindparam("task"), *_fetchable(_NOW))
    .values(worker_id=bindparam("worker"), lock_expires_at=bindparam("until"))
)


_ONE_TASK = select(WORK_ITEMS).where(WORK_ITEMS.c.id == bindparam("task"))
# A fetched task's row, read back after its lock committed (one each, by id).
_TASK_ROW = Prepared(_ONE_TASK)
# What a fetch lists of each material of its task's department view.
_MATERIALS = table_of(Material)
_MATERIAL_FACTS = Prepared(
    select(
        _MATERIALS.c.id, _MATERIALS.c.filename, _MATERIALS.c.sha256, _MATERIALS.c.size, _MATERIALS.c.mime
    ).where(_MATERIALS.c.id.in_(bindparam("ids", expanding=True)))
)
# A completion's task row read again under a row lock (``_held_row``).
_HELD_ROW = Prepared(_ONE_TASK.with_for_update())


def _candidates(shape: _FetchShape) -> Prepared:
    """The fetch's candidates query of one shape, built once and run on the driver.

    Its parameters: ``now``, ``department``, ``divisions`` (a list), ``limit``, and per
    topic ``i`` its name ``topic_i`` and business key ``key_i`` (``key_id_i`` as a case id).
    """
    if shape not in _CANDIDATES:
        use_priority, topics = shape
        filters = []
        for i, (keyed, by_id) in enumerate(topics):
            named = WorkItem.topic == bindparam(f"topic_{i}")
            if keyed:
                case_id: BindParameter[int] | None = bindparam(f"key_id_{i}") if by_id else None
                named = and_(named, _of_case_keyed(bindparam(f"key_{i}"), case_id))
            filters.append(named)
        order = (WorkItem.priority.desc(), WorkItem.id) if use_priority else (WorkItem.id,)
        query = Prepared(
            select(WORK_ITEMS.c.id, WORK_ITEMS.c.topic)
            .where(
                *_fetchable(_NOW),
                WorkItem.department == bindparam("department"),
                WorkItem.division.in_(bindparam("divisions", expanding=True)),
                or_(*filters),
            )
            .order_by(*order)
            .limit(bindparam("limit"))
            # PostgreSQL: a concurrent fetch skips the rows this one holds (SQLite ignores
            # it; its write transaction already runs fetches one at a time).
            .with_for_update(skip_locked=True)
        )
        with _CANDIDATES_LOCK:
            _CANDIDATES.setdefault(shape, query)
    return _CANDIDATES[shape]


def _within(query: Select[WorkItem], reach: TaskReach) -> Select[WorkItem]:
    """Task rows of the offices within ``reach``."""
    if reach.departments is not None:
        query = query.where(WorkItem.department.in_(sorted(reach.departments)))
    if reach.divisions is not None:
        query = query.where(WorkItem.division.in_(sorted(reach.divisions)))
    return query


def _not_found(task_id: int) -> ExternalTaskNotFound:
    return ExternalTaskNotFound(f"Cannot find external task with id {task_id}")


def _invalid(where: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput(f"{zh} ({en})", [Problem(zh, where=where, rule="invalid", message_en=en)])


def _lock_lost(task_id: int, action: str, worker_id: str, holder: str | None) -> ExternalTaskLockLost:
    """Camunda's text for a worker that does not hold the task's lock."""
    return ExternalTaskLockLost(
        f"{action.format(id=task_id)} by worker '{worker_id}'. It is locked by worker '{holder}'."
    )


_COMPLETE = "External Task {id} cannot be completed"
_FAILURE = "Failure of External Task {id} cannot be reported"
_BPMN_ERROR = "Bpmn error of External Task {id} cannot be reported"
_EXTEND = "The lock of the External Task {id} cannot be extended"


class ExternalTasks(Queues, TaskActions):
    """Fetch-and-lock, complete, fail, BPMN errors, locks, retries, incidents and hand-over."""

    @property
    def external_signal(self) -> threading.Condition:
        """Notified after a commit that made an external task fetchable (long polling waits on it)."""
        return self.store.external_signal

    # -- who may ------------------------------------------------------------------------

    @staticmethod
    def _system_department(actor: Actor) -> str:
        """The one department a system account works for (anyone else may not fetch or complete)."""
        if actor.role is not Role.SYSTEM or len(actor.departments) != 1:
            raise NotAllowed(
                "只有部门系统账号可以办理外部任务 (only a department's system account works external tasks)"
            )
        (department,) = actor.departments
        return department

    def _reading_reach(self, actor: Actor) -> TaskReach:
        """The offices whose external tasks the actor may read (``task_reach``).

        Its system (its department in its division's subtree), supervisors (theirs and
        below), analysts and admins (in their scope); clerks who supervise nothing may not.
        """
        if actor.role in (Role.ADMIN, Role.ANALYST, Role.SYSTEM) or (
            actor.role is Role.CLERK and actor.supervisor
        ):
            return task_reach(actor, self.regions)
        raise NotAllowed("只有部门系统、督办人员和管理员可以查看外部任务 (not yours to read)")

    def _system_may(self, actor: Actor) -> Callable[[str, str], bool]:
        """Whether the system account may act on an external task of (department, division)."""
        return lambda department, division: may_see_as_system(
            actor, department, division, EXTERNAL, self.regions
        )

    @staticmethod
    def _locate_external(task_id: int, may: Callable[[str, str], bool]) -> Callable[[Session], int]:
        """A ``locate`` for ``_mutate``: the case of an external task that ``may(department, division)``."""

        def locate(session: Session) -> int:
            found = TASK_OFFICE.one_or_none(session, {"task": task_id})
            if found is None or found.kind != EXTERNAL or not may(found.department, found.division):
                raise _not_found(task_id)
            return int(found.case_id)

        return locate

    @staticmethod
    def _held_row(oc: OpenCase, task_id: int) -> WorkItem:
        """The task row re-read under a row lock: a fetch does not take the case lock, so the
        lock owner read with the case may be stale until this read."""
        if oc.row(task_id) is None:
            raise _not_found(task_id)
        (item,) = attach(oc.session, WorkItem, _HELD_ROW.rows(oc.session, {"task": task_id}))
        if item.kind != EXTERNAL:
            raise _not_found(task_id)  # handed to a clerk: no longer the system's
        return item

    @staticmethod
    def _active(oc: OpenCase, task_id: int) -> None:
        """Refuse to act on an external task of a suspended case, in Camunda's words (400 over REST)."""
        if oc.case.status == CaseStatus.SUSPENDED:
            raise CaseSuspendedError(f"ExternalTask with id '{task_id}' is suspended.")

    @staticmethod
    def _live(item: WorkItem) -> WorkItem:
        """A task its system may still act on (ready, or an incident); finished ones are gone."""
        if item.state not in LIVE_STATES:
            raise _not_found(item.id)
        return item

    @classmethod
    def _owned(cls, item: WorkItem, worker_id: str, action: str) -> WorkItem:
        """A live task whose lock ``worker_id`` holds; another's lock refuses ``action``."""
        cls._live(item)
        if item.worker_id != worker_id:
            raise _lock_lost(item.id, action, worker_id, item.worker_id)
        return item

    # -- fetch and lock -------------------------------------------------------------------

    def fetch_and_lock(
        self,
        actor: Actor,
        worker_id: str,
        max_tasks: int,
        topics: Sequence[TopicRequest],
        use_priority: bool = False,
    ) -> list[ExternalTaskView]:
        """Lock up to ``max_tasks`` fetchable tasks of the actor's department on the topics asked for.

        Only tasks of its offices: its department in its division's subtree (a system account
        without a division: the default division's subtree).

        Each task is locked for its topic's ``lock_duration_ms`` by ``worker_id`` and handed
        out with the item's department view of the case (variables limited to the names
        asked for) and its materials. Highest priority first when ``use_priority``, then oldest.
        """
        department = self._system_department(actor)
        divisions = sorted(self.regions.tree().subtree(self.regions.own(actor.division)))
        if not worker_id:
            raise _invalid("workerId", "须提供 workerId", "workerId is required")
        for request in topics:
            if request.lock_duration_ms <= 0:
                raise _invalid("lockDuration", "锁定时长须为正数", "lockDuration must be positive")
        if max_tasks <= 0 or not topics:
            return []
        wanted: dict[str, TopicRequest] = {}
        for request in topics:
            wanted.setdefault(request.topic_name, request)
        now = self.clock.now()
        locked: list[tuple[int, TopicRequest]] = []
        asked = sorted(wanted)
        keys = [wanted[name].business_key for name in asked]
        by_id = [key is not None and _is_case_id(key) for key in keys]
        shape = (
            use_priority,
            tuple((key is not None, as_id) for key, as_id in zip(keys, by_id, strict=True)),
        )
        params: dict[str, Any] = {
            "now": now,
            "department": department,
            "divisions": divisions,
            "limit": max_tasks,
        }
        for i, (name, key, as_id) in enumerate(zip(asked, keys, by_id, strict=True)):
            params[f"topic_{i}"] = name
            if key is not None:
                params[f"key_{i}"] = key
                if as_id:
                    params[f"key_id_{i}"] = int(key)
        with self.db.write() as s:
            for task_id, topic in _candidates(shape).rows(s, params):
                request = wanted[str(topic)]
                until = now + timedelta(milliseconds=request.lock_duration_ms)
                won = _LOCK_TASK.count(s, {"task": task_id, "now": now, "worker": worker_id, "until": until})
                if won:
                    locked.append((task_id, request))
        if not locked:
            return []
        with self.db.read() as s:
            return [
                self._external_view(s, _TASK_ROW.one(s, {"task": task_id}), request)
                for task_id, request in locked
            ]

    # -- the lock holder's calls -------------------------------------------------------------

    def complete_external(
        self,
        actor: Actor,
        task_id: int,
        worker_id: str,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> None:
        """The system reports the task done: approved as a clerk's approval is, and the case runs on.

        The item's decision fields are taken from the variables (and checked as a clerk's
        decision is); every variable reaches the workflow. The same worker completing again
        changes nothing.
        """
        self._system_department(actor)
        given = json_ready({**(variables or {}), **(local_variables or {})})

        def change(oc: OpenCase) -> None:
            item = self._held_row(oc, task_id)
            if item.state == WorkItemState.COMPLETED and item.outcome == Outcome.APPROVE:
                if item.worker_id == worker_id:
                    return  # completed twice with the same lock: harmless
                raise _not_found(task_id)
            self._active(oc, task_id)
            self._owned(item, worker_id, _COMPLETE)
            was_incident = item.state == WorkItemState.FAILED
            # The item's decision fields are checked as a clerk's; other variables are the
            # system's process variables (Camunda's), for the workflow only.
            names = self.deployments.form(oc.deployment).decision_fields(item.item_key)
            decision = self._checked_decision(oc, item, {k: v for k, v in given.items() if k in names})
            self._approve(oc, item, actor.username, decision, variables=given)
            if was_incident:
                self._emit_resolved(oc, item, actor.username, "completed")
            self._after_progress(oc, actor.username)

        self._mutate(self._locate_external(task_id, self._system_may(actor)), change)

    def fail_external(
        self,
        actor: Actor,
        task_id: int,
        worker_id: str,
        error_message: str,
        error_details: str | None,
        retries: int,
        retry_timeout_ms: int,
    ) -> None:
        """The system could not do the task: ``retries`` are left, fetchable again after ``retry_timeout_ms``.

        Retries reaching 0 make an incident for the department's supervisors. The error text
        stays on the task row (for the system, its supervisors and admins), never on the
        applicant's timeline.
        """
        self._system_department(actor)
        if retries < 0:
            raise _invalid("retries", "重试次数不能为负", "retries must not be negative")
        if retry_timeout_ms < 0:
            raise _invalid("retryTimeout", "重试等待不能为负", "retryTimeout must not be negative")

        def change(oc: OpenCase) -> None:
            self._active(oc, task_id)
            item = self._owned(self._held_row(oc, task_id), worker_id, _FAILURE)
            item.error_message = error_message
            item.error_details = error_details
            item.lock_expires_at = oc.now + timedelta(milliseconds=retry_timeout_ms)
            emit(
                oc.session,
                ExternalTaskFailed(
                    case_id=oc.case.id,
                    at=oc.now,
                    actor=actor.username,
                    work_item_id=item.id,
                    item=item.item_key,
                    retries=retries,
                    error_message=error_message,
                ),
            )
            self._apply_retries(oc, item, retries, actor.username)

        self._mutate(self._locate_external(task_id, self._system_may(actor)), change)

    def bpmn_error_external(
        self,
        actor: Actor,
        task_id: int,
        worker_id: str,
        error_code: str,
        error_message: str = "",
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        """A business error from the system: an error boundary event on the task takes the case on.

        When nothing on the task catches ``error_code`` the task becomes an incident (the
        case waits; the supervisors see it), with "BPMN error <code> not caught" as its error.
        """
        self._system_department(actor)
        if not error_code:
            raise _invalid("errorCode", "须提供 errorCode", "errorCode is required")
        given = json_ready(dict(variables or {}))

        def change(oc: OpenCase) -> None:
            self._active(oc, task_id)
            item = self._owned(self._held_row(oc, task_id), worker_id, _BPMN_ERROR)
            caught = self.runner.throw_error(oc.workflow, item.spiff_id, error_code, error_message, given)
            emit(
                oc.session,
                BpmnErrorThrown(
                    case_id=oc.case.id,
                    at=oc.now,
                    actor=actor.username,
                    work_item_id=item.id,
                    item=item.item_key,
                    error_code=error_code,
                    caught=caught,
                    error_message=error_message,
                ),
            )
            if caught:
                # The boundary route cancelled the task: the case store cancels its row (and
                # resolves its incident, if it was one).
                self._after_progress(oc, actor.username)
                return
            item.error_message = f"BPMN error {error_code} not caught"
            item.error_details = error_message or None
            self._apply_retries(oc, item, 0, actor.username)

        self._mutate(self._locate_external(task_id, self._system_may(actor)), change)

    def extend_lock(self, actor: Actor, task_id: int, worker_id: str, new_duration_ms: int) -> None:
        """The lock holder keeps the task ``new_duration_ms`` from now (only while its lock holds)."""
        department = self._system_department(actor)
        divisions = sorted(self.regions.tree().subtree(self.regions.own(actor.division)))
        if new_duration_ms <= 0:
            raise _invalid("newDuration", "锁定时长须为正数", "newDuration must be positive")
        now = self.clock.now()
        with self.db.write() as s:
            extended = rowcount(
                s.execute(
                    update(WorkItem)
                    .where(
                        WorkItem.id == task_id,
                        WorkItem.kind == EXTERNAL,
                        WorkItem.department == department,
                        WorkItem.division.in_(divisions),
                        WorkItem.state.in_(LIVE_STATES),
                        WorkItem.worker_id == worker_id,
                        WorkItem.lock_expires_at > now,
                    )
                    .values(lock_expires_at=now + timedelta(milliseconds=new_duration_ms))
                    .execution_options(synchronize_session=False)
                )
            )
            if extended:
                return
            row = s.get(WorkItem, task_id)
            if (
                row is None
                or row.kind != EXTERNAL
                or not may_see_as_system(actor, row.department, row.division, row.kind, self.regions)
                or row.state not in LIVE_STATES
            ):
                raise _not_found(task_id)
            if row.worker_id != worker_id:
                raise _lock_lost(task_id, _EXTEND, worker_id, row.worker_id)
            raise ExternalTaskNotLocked("Cannot extend a lock that expired")

    # -- the department's system, supervisors and admins ----------------------------------------

    def unlock(self, actor: Actor, task_id: int) -> None:
        """Clear the task's lock owner and expiry: any worker may fetch it at once."""
        reach = self._managing_reach(actor)
        with self.db.write() as s:
            query = update(WorkItem).where(
                WorkItem.id == task_id, WorkItem.kind == EXTERNAL, WorkItem.state.in_(LIVE_STATES)
            )
            if reach.departments is not None:
                query = query.where(WorkItem.department.in_(sorted(reach.departments)))
            if reach.divisions is not None:
                query = query.where(WorkItem.division.in_(sorted(reach.divisions)))
            done = rowcount(
                s.execute(
                    query.values(worker_id=None, lock_expires_at=None).execution_options(
                        synchronize_session=False
                    )
                )
            )
        if not done:
            raise _not_found(task_id)
        self.store.notify_external()

    def set_retries(self, actor: Actor, task_id: int, retries: int) -> None:
        """Set the retries left: above 0 an incident is resolved (fetchable again), 0 makes one."""
        reach = self._managing_reach(actor)
        if retries < 0:
            raise _invalid("retries", "重试次数不能为负", "retries must not be negative")

        def change(oc: OpenCase) -> None:
            item = self._live(self._held_row(oc, task_id))
            self._apply_retries(oc, item, retries, actor.username)

        self._mutate(self._locate_external(task_id, reach.holds), change)

    def hand_to_clerk(self, actor: Actor, task_id: int, reason: str) -> WorkItemView:
        """A supervisor (or an admin) gives a stuck or failed external task to the department's clerks.

        The task becomes an ordinary human task, ready in the department's queue: a clerk
        claims and approves it and the case moves on. The system can no longer fetch it.
        """
        if actor.role not in (Role.ADMIN, Role.CLERK):
            raise NotAllowed("只有督办人员和管理员可以转人工办理 (only supervisors hand tasks to clerks)")

        def change(oc: OpenCase) -> WorkItemView:
            item = self._live(self._held_row(oc, task_id))
            # After the lookup: a task one may not see is a 404 whatever the reason says.
            if not reason.strip():
                raise _invalid("reason", "请写明转人工办理的原因", "say why the task goes to a clerk")
            was_incident = item.state == WorkItemState.FAILED
            item.kind = TaskKind.HUMAN.value
            item.state = WorkItemState.READY
            item.worker_id = None
            item.lock_expires_at = None
            emit(
                oc.session,
                HandedToClerk(
                    **task_event_fields(oc, item, actor.username),
                    reason=reason.strip(),
                ),
            )
            if was_incident:
                self._emit_resolved(oc, item, actor.username, "handed_to_clerk")
            return self._item_view(item, oc.deployment)

        return self._mutate(
            self._locate_external(
                task_id,
                lambda department, division: may_supervise_task(actor, department, division, self.regions),
            ),
            change,
        )

    def _managing_reach(self, actor: Actor) -> TaskReach:
        """The offices whose external tasks the actor may unlock and set retries on.

        An admin's scope (none: all), or a system account's department in its subtree.
        """
        if actor.role is Role.ADMIN or (actor.role is Role.SYSTEM and len(actor.departments) == 1):
            return task_reach(actor, self.regions)
        raise NotAllowed("只有部门系统账号和管理员可以操作外部任务 (only the system account or an admin)")

    def _apply_retries(self, oc: OpenCase, item: WorkItem, retries: int, actor: str) -> None:
        """Set the retries and open or resolve the incident they make (Camunda's retries and incidents)."""
        item.retries = retries
        if retries == 0 and item.state == WorkItemState.READY:
            item.state = WorkItemState.FAILED
            emit(
                oc.session,
                IncidentRaised(**task_event_fields(oc, item, actor)),
            )
        elif retries > 0 and item.state == WorkItemState.FAILED:
            item.state = WorkItemState.READY
            self._emit_resolved(oc, item, actor, "retries")
        if retries > 0:
            oc.after_commit.append(self.store.notify_external)

    @staticmethod
    def _emit_resolved(oc: OpenCase, item: WorkItem, actor: str, how: str) -> None:
        emit(
            oc.session,
            IncidentResolved(**task_event_fields(oc, item, actor), how=how),
        )

    # -- reading --------------------------------------------------------------------------

    def external_tasks(
        self,
        actor: Actor,
        *,
        topic: str | None = None,
        worker_id: str | None = None,
        locked: bool | None = None,
        not_locked: bool | None = None,
        with_retries_left: bool | None = None,
        no_retries_left: bool | None = None,
        process_instance_id: int | None = None,
        business_key: str | None = None,
        first: int = 0,
        max_results: int | None = None,
    ) -> list[ExternalTaskView]:
        """The external tasks (ready or failed) the actor may read, oldest first, filtered as Camunda's."""
        reach = self._reading_reach(actor)
        now = self.clock.now()
        query = _within(
            select(WorkItem).where(WorkItem.kind == EXTERNAL, WorkItem.state.in_(LIVE_STATES)), reach
        )
        if topic is not None:
            query = query.where(WorkItem.topic == topic)
        if worker_id is not None:
            query = query.where(WorkItem.worker_id == worker_id)
        if locked:
            query = query.where(WorkItem.lock_expires_at > now)
        if not_locked:
            query = query.where(_free(now))
        if with_retries_left:
            query = query.where(or_(WorkItem.retries.is_(None), WorkItem.retries > 0))
        if no_retries_left:
            query = query.where(WorkItem.retries == 0)
        if process_instance_id is not None:
            query = query.where(WorkItem.case_id == process_instance_id)
        if business_key is not None:
            query = query.where(
                _of_case_keyed(business_key, int(business_key) if _is_case_id(business_key) else None)
            )
        query = query.order_by(WorkItem.id).offset(max(first, 0))
        if max_results is not None:
            query = query.limit(max(max_results, 0))
        with self.db.read() as s:
            return [self._external_view(s, w) for w in s.scalars(query).all()]

    def external_task(self, actor: Actor, task_id: int) -> ExternalTaskView:
        """One external task (ready or failed) the actor may read."""
        reach = self._reading_reach(actor)
        with self.db.read() as s:
            w = s.get(WorkItem, task_id)
            if (
                w is None
                or w.kind != EXTERNAL
                or w.state not in LIVE_STATES
                or not reach.holds(w.department, w.division)
            ):
                raise _not_found(task_id)
            return self._external_view(s, w)

    def incidents(self, actor: Actor) -> list[ExternalTaskView]:
        """External tasks out of retries: a supervisor's offices and those below, an admin's scope."""
        if actor.role is not Role.ADMIN and not (actor.role is Role.CLERK and actor.supervisor):
            raise NotAllowed("只有督办人员和管理员可以查看故障 (only supervisors and admins see incidents)")
        query = _within(
            select(WorkItem).where(WorkItem.kind == EXTERNAL, WorkItem.state == WorkItemState.FAILED),
            task_reach(actor, self.regions),
        )
        with self.db.read() as s:
            return [self._external_view(s, w) for w in s.scalars(query.order_by(WorkItem.id)).all()]

    def _external_view(
        self, s: Session, w: WorkItem | Row[Any], request: TopicRequest | None = None
    ) -> ExternalTaskView:
        """A task (object or row) as its system sees it; with ``request`` (a fetch), its department's
        view of the case."""
        row = self.deployments.row(s, w.deployment_id)
        case: Case | Row[Any] | None
        variables: dict[str, Any] = {}
        materials: tuple[dict[str, Any], ...] = ()
        if request is not None:
            case, row, data = self._department_data(s, w)
            view = self._department_view(w, case, row, data)
            names = request.variables
            variables = {name: value for name, value in view.fields.items() if names is None or name in names}
            materials = self._material_list(s, view.materials)
        else:
            case = s.get(Case, w.case_id)
        return ExternalTaskView(
            id=w.id,
            topic=w.topic or w.department,
            department=w.department,
            division=w.division,
            item=w.item_key,
            item_name=self._item_label(row, w.item_key),
            case_id=w.case_id,
            case_code=case.code if case is not None else None,
            bundle=w.bundle_key,
            version=row.version,
            deployment_id=w.deployment_id,
            activity_id=w.task_name,
            spiff_id=w.spiff_id,
            state=w.state,
            worker_id=w.worker_id,
            lock_expires_at=w.lock_expires_at,
            retries=w.retries,
            error_message=w.error_message,
            error_details=w.error_details,
            priority=w.priority,
            created_at=w.created_at,
            due_at=w.due_at,
            overdue=w.overdue,
            variables=variables,
            materials=materials,
        )

    def _item_label(self, row: Deployment, item_key: str) -> Label:
        try:
            item = self.deployments.definition(row).manifest.item(item_key)
        except KeyError:
            return Label(item_key, item_key)
        return Label(item.name.zh, item.name.en)

    @staticmethod
    def _material_list(s: Session, by_kind: Mapping[str, str]) -> tuple[dict[str, Any], ...]:
        """The materials of a department view as ``{kind, name, id, sha256, size, mime}``."""
        if not by_kind:
            return ()
        rows = {m.id: m for m in _MATERIAL_FACTS.rows(s, {"ids": sorted(set(by_kind.values()))})}
        listed = []
        for kind, material_id in by_kind.items():
            found = rows.get(material_id)
            if found is None:
                continue
            listed.append(
                {
                    "kind": kind,
                    "name": found.filename or kind,
                    "id": found.id,
                    "sha256": found.sha256,
                    "size": found.size,
                    "mime": found.mime,
                }
            )
        return tuple(listed)
