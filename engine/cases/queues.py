"""Department queues and a task as its department sees it.

A queue is a query over work-item rows, not a class: the open tasks of the actor's offices
(departments at divisions, ``engine.cases.visibility.task_reach``) by due time, keyset-paged
so that pages stay stable while tasks are added (human tasks only: external tasks wait for
the department's system, ``engine.cases.external``). The statements are built once per
combination of filters, so reading a queue (every clerk's page) skips statement
construction. A task's detail shows its department only its item's fields and materials.

May import: ``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``,
``engine.errors``, ``forms``.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from engine.bpmn.runtime import TaskKind
from engine.cases.core import CaseCore, with_decisions
from engine.cases.cursors import MAX_PAGE, decode_cursor, encode_cursor
from engine.cases.states import OPEN_WORK_STATES, Outcome
from engine.cases.views import Page, TaskDetail, WorkItemView
from engine.cases.visibility import may_see_as_system, task_reach
from engine.errors import NotAllowed, WorkItemNotFound
from engine.people.actors import Actor, Role
from engine.storage.models import Case, Deployment, WorkItem, table_of
from engine.storage.prepared import Prepared
from forms.views import DepartmentView

WORK_ITEMS = table_of(WorkItem)
_CASES = table_of(Case)
# A department's view of a task's case (a clerk's task page; each task a system fetches) reads,
# on statements built once (``Prepared``), what the view is made of, as plain rows: the case's
# answers, materials and issued outputs, and the decisions of its approved tasks, in order.
_CASE_FOR_VIEW = Prepared(
    select(
        _CASES.c.id, _CASES.c.code, _CASES.c.status, _CASES.c.data, _CASES.c.materials, _CASES.c.outputs
    ).where(_CASES.c.id == bindparam("case"))
)
_DECISIONS = Prepared(
    select(WORK_ITEMS.c.decision)
    .where(WORK_ITEMS.c.case_id == bindparam("case"), WORK_ITEMS.c.outcome == Outcome.APPROVE)
    .order_by(WORK_ITEMS.c.id)
)


class Queues(CaseCore):
    """Department queues, their counts, and a task's department view."""

    def _queue_filter(
        self,
        actor: Actor,
        department: str | None,
        division: str | None,
        state: str | None,
        bundle: str | None,
        assignee: str | None,
        overdue: bool | None,
    ) -> dict[str, Any] | None:
        """The parameters of a queue filter ``actor`` may see (None: asking for nothing of theirs).

        Clerks read their departments at their own office, supervisors in their division's
        subtree, scoped analysts and admins in their scope (``task_reach``); ``department``
        and ``division`` (that division's subtree) narrow it, and a filter outside it is an
        empty queue, not an error. Only the filters given are present; ``_queue_select``
        builds the statement for them: one division as ``division`` (a one-office queue, on
        ``ix_work_items_office``), several as ``divisions``.
        """
        if actor.role not in (Role.CLERK, Role.ANALYST, Role.ADMIN):
            raise NotAllowed("只有窗口人员可以查看任务队列 (only clerks see queues)")
        reach = task_reach(actor, self.regions)
        if reach.departments is None:
            departments = [department] if department else []
        else:
            departments = sorted(reach.departments)
            if department is not None:
                departments = [department] if department in reach.departments else []
            if not departments:
                return None
        divisions = reach.divisions
        if division is not None:
            below = self.regions.tree().subtree(division)
            divisions = below if divisions is None else below & divisions
            if not divisions:
                return None
        found: dict[str, Any] = {
            "departments": departments,
            "division": next(iter(divisions)) if divisions is not None and len(divisions) == 1 else None,
            "divisions": sorted(divisions) if divisions is not None and len(divisions) > 1 else None,
            "state": state,
            "bundle": bundle,
            "assignee": actor.username if assignee == "me" else assignee,
            "overdue": overdue,
        }
        return {name: value for name, value in found.items() if value not in (None, "", [])}

    def list_tasks(
        self,
        actor: Actor,
        *,
        department: str | None = None,
        division: str | None = None,
        state: str | None = None,
        bundle: str | None = None,
        assignee: str | None = None,
        overdue: bool | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[WorkItemView]:
        """A queue: the actor's offices' tasks by due time, keyset-paged (stable under inserts).

        ``division`` narrows it to that division's subtree (a supervisor's one office below).
        """
        limit = max(1, min(limit, MAX_PAGE))
        params = self._queue_filter(actor, department, division, state, bundle, assignee, overdue)
        if params is None:
            return Page((), None)
        if cursor:
            after_due, after_id = decode_cursor(cursor, datetime, int)
            params.update(after_due=after_due, after_id=after_id)
        with self.db.read() as s:
            # Plain rows, not ORM objects: a queue page is read often and never changed.
            rows = _queue_page(frozenset(params)).rows(s, {**params, "limit": limit + 1})
            page = rows[:limit]
            views = []
            for w in page:
                views.append(self._item_view(w, self.deployments.row(s, w.deployment_id)))
        next_cursor = None
        if len(rows) > limit and page[-1].due_at is not None:
            next_cursor = encode_cursor([page[-1].due_at.isoformat(), page[-1].id])
        return Page(tuple(views), next_cursor)

    def count_tasks(
        self,
        actor: Actor,
        *,
        department: str | None = None,
        division: str | None = None,
        state: str | None = None,
        bundle: str | None = None,
        assignee: str | None = None,
        overdue: bool | None = None,
        cap: int = 200,
    ) -> tuple[int, bool]:
        """How many tasks a queue filter holds, counted up to ``cap`` (and whether there are more).

        One capped COUNT on the queue's index, where listing the tasks would build a view of each.
        """
        params = self._queue_filter(actor, department, division, state, bundle, assignee, overdue)
        if params is None:
            return 0, False
        with self.db.read() as s:
            found = int(s.scalar(_queue_count(frozenset(params)), {**params, "limit": cap + 1}) or 0)
        return min(found, cap), found > cap

    def get_task(self, actor: Actor, work_item_id: int) -> TaskDetail:
        """A task with its department's view of the case: only its item's fields and materials.

        A system account reads only its department's external tasks this way (their
        materials download through this view); a clerk may read an external task too.
        """
        with self.db.read() as s:
            w = self._visible_item(s, actor, work_item_id)
            if actor.role is Role.SYSTEM and not may_see_as_system(
                actor, w.department, w.division, w.kind, self.regions
            ):
                raise WorkItemNotFound(f"没有这个任务 (no task {work_item_id})")
            case, row, data = self._department_data(s, w)
        manifest = self.deployments.definition(row).manifest
        form = self.deployments.form(row)
        view = self._department_view(w, case, row, data)
        example: dict[str, Any] = {}
        for ex in manifest.examples:
            if w.item_key in ex.decisions:
                example = dict(ex.decisions[w.item_key])
                break
        return TaskDetail(
            task=self._item_view(w, row),
            fields=dict(view.fields),
            materials=dict(view.materials),
            decision_fields=form.decision_fields(w.item_key),
            asked_decision_fields=tuple(n for n in form.decision_fields(w.item_key) if form.asked(n, data)),
            example=example,
            case_status=case.status,
        )

    def _department_data(
        self, s: Session, w: WorkItem | Row[Any]
    ) -> tuple[Row[Any], Deployment, dict[str, Any]]:
        """A task's case (a row of ``_CASE_FOR_VIEW``), deployment, and its data with the decisions so far."""
        case = _CASE_FOR_VIEW.one(s, {"case": w.case_id})
        row = self.deployments.row(s, w.deployment_id)
        return case, row, with_decisions(case.data, _DECISIONS.rows(s, {"case": w.case_id}))

    def _department_view(
        self, w: WorkItem | Row[Any], case: Row[Any], row: Deployment, data: dict[str, Any]
    ) -> DepartmentView:
        """What the task's department may see of the case (data minimisation): its item's data.

        The one place a department's view is built: a clerk's task detail and the variables
        and materials a department system fetches with an external task both come from here.
        """
        materials = {**case.materials, **case.outputs}
        return self.deployments.form(row).department_view(w.item_key, data, materials)


@functools.cache
def _queue_select(filters: frozenset[str]) -> Select[Any]:
    """A queue page's statement for the filters present (``_queue_filter``), built once per combination.

    Queues are read on every clerk's page; a prebuilt statement with parameters skips
    statement construction and hits the compiled cache. Order: by due time, then id.
    Only human tasks queue: a department system's external tasks are fetched, not claimed
    (until a supervisor hands one to the clerks, which makes it human).
    """
    c = WORK_ITEMS.c
    query = select(*c).where(c.kind == TaskKind.HUMAN.value)
    if "departments" in filters:
        query = query.where(c.department.in_(bindparam("departments", expanding=True)))
    if "division" in filters:
        query = query.where(c.division == bindparam("division"))
    elif "divisions" in filters:
        query = query.where(c.division.in_(bindparam("divisions", expanding=True)))
    if "state" in filters:
        query = query.where(c.state == bindparam("state"))
    else:
        query = query.where(c.state.in_(OPEN_WORK_STATES))
    if "bundle" in filters:
        query = query.where(c.bundle_key == bindparam("bundle"))
    if "assignee" in filters:
        query = query.where(c.assignee == bindparam("assignee"))
    if "overdue" in filters:
        query = query.where(c.overdue == bindparam("overdue"))
    if "after_due" in filters:
        due, last = bindparam("after_due", type_=c.due_at.type), bindparam("after_id", type_=c.id.type)
        query = query.where(or_(c.due_at > due, and_(c.due_at == due, c.id > last)))
    return query.order_by(c.due_at, c.id).limit(bindparam("limit"))


@functools.cache
def _queue_page(filters: frozenset[str]) -> Prepared:
    """A queue page's statement on the driver (``Prepared``): every clerk's page reads one."""
    return Prepared(_queue_select(filters))


@functools.cache
def _queue_count(filters: frozenset[str]) -> Select[Any]:
    """The capped COUNT of a queue filter (``count_tasks``), built once per combination."""
    capped = _queue_select(filters).with_only_columns(WORK_ITEMS.c.id).subquery()
    return select(func.count()).select_from(capped)
