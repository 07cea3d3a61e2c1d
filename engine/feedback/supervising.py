"""What a supervisor's screen reads (督办台): entries, rectifications, complaints, suspended cases.

The REST routes list what is still open (``supervision.queue_for``, ``rectifications_for``);
the supervision page also shows what was done (resolved entries, replied rectifications,
answered complaints) and, for each row, whether the reader may act on it. The rules are the
functions the writers ask: ``reach_of`` (whose entries a supervisor, admin or analyst reads),
``entry_division`` and ``responsible_division`` (the office an entry, rectification or
complaint belongs to), ``may_supervise_task`` (who answers a complaint or closes an entry)
and ``may_work_task`` (who replies to a rectification: its own office's clerks, a supervisor
there included, or an admin in scope).

May import: ``engine.feedback.rows``, ``engine.feedback.views``, ``engine.deadlines``,
``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, SQLColumnExpression, select

from engine.cases.states import OPEN_WORK_STATES, CaseStatus
from engine.cases.suspending import may_suspend_case
from engine.cases.suspension_rows import CaseSuspension
from engine.cases.suspension_views import SuspensionView
from engine.cases.visibility import TaskReach, may_supervise_task, may_work_task
from engine.deadlines.supervision import (
    TASK_SUBJECTS,
    Audience,
    EntryState,
    Escalation,
    Subject,
    SupervisorEntry,
    entry_division,
    narrowed,
    reach_of,
    responsible_division,
)
from engine.feedback.rows import Complaint, ComplaintState, Rectification, RectificationState
from engine.feedback.views import ComplaintView, RectificationView
from engine.people.actors import Actor, Role
from engine.regions.service import Regions
from engine.storage.db import Database
from engine.storage.models import Case, WorkItem

LIMIT = 200  # rows per list: a screen, not an export
# Entries a supervisor closes with a note; complaints close by their answer, incidents by a handover.
NOTE_SUBJECTS = (Subject.WORK_ITEM.value, Subject.RECTIFICATION.value)


class Shown(StrEnum):
    """Which rows a list shows: those still to act on, those dealt with, or both."""

    OPEN = "open"
    DONE = "done"
    ALL = "all"


@dataclass(frozen=True)
class EntryTask:
    """The task an overdue-task or incident entry is about, as it stands now."""

    state: str
    assignee: str | None
    overdue: bool


@dataclass(frozen=True)
class SupervisedEntry:
    """A supervisor-queue entry, its task (when it is about one), and whether the reader closes it."""

    entry: SupervisorEntry
    task: EntryTask | None
    may_resolve: bool


@dataclass(frozen=True)
class SupervisedRectification:
    """A rectification of an office in reach, and whether the reader replies to it."""

    view: RectificationView
    may_reply: bool


@dataclass(frozen=True)
class SupervisedComplaint:
    """A complaint of an office in reach (``division``: that office's), and whether the reader answers it."""

    view: ComplaintView
    division: str
    may_answer: bool


def _reach(actor: Actor, regions: Regions, department: str | None, division: str | None) -> TaskReach:
    """The offices the reader supervises, narrowed as the REST queue narrows them."""
    return narrowed(reach_of(actor, regions), regions, department, division)


def _in_reach(
    reach: TaskReach, department: SQLColumnExpression[str], division: SQLColumnExpression[str]
) -> list[ColumnElement[bool]]:
    """The conditions that keep rows to the offices of ``reach``."""
    conditions: list[ColumnElement[bool]] = []
    if reach.departments is not None:
        conditions.append(department.in_(sorted(reach.departments)))
    if reach.divisions is not None:
        conditions.append(division.in_(sorted(reach.divisions)))
    return conditions


def _in_state(
    shown: Shown, state: SQLColumnExpression[str], open_state: str, done_state: str
) -> list[ColumnElement[bool]]:
    """The condition that keeps the rows ``shown`` asks for: open, dealt with, or (none) both."""
    if shown is Shown.OPEN:
        return [state == open_state]
    if shown is Shown.DONE:
        return [state == done_state]
    return []


def entries(
    db: Database,
    actor: Actor,
    *,
    regions: Regions,
    shown: Shown = Shown.OPEN,
    department: str | None = None,
    division: str | None = None,
) -> list[SupervisedEntry]:
    """Supervisor-queue entries of the offices the reader supervises: open oldest first, done newest first."""
    reach = _reach(actor, regions, department, division)
    office = entry_division(regions.default).label("division")
    states = {
        Shown.OPEN: [EntryState.OPEN],
        Shown.DONE: [EntryState.RESOLVED],
        Shown.ALL: [EntryState.OPEN, EntryState.RESOLVED],
    }[shown]
    query = (
        select(Escalation, office)
        .where(
            Escalation.audience == Audience.SUPERVISOR,
            Escalation.state.in_([s.value for s in states]),
            *_in_reach(reach, Escalation.department, office),
        )
        .order_by(
            *(
                (Escalation.resolved_at.desc(), Escalation.id.desc())
                if shown is Shown.DONE
                else (Escalation.state, Escalation.opened_at, Escalation.id)
            )
        )
        .limit(LIMIT)
    )
    with db.read() as s:
        rows = s.execute(query).all()
        task_ids = [row.subject_id for row, _ in rows if row.subject in TASK_SUBJECTS]
        tasks = {
            t.id: EntryTask(t.state, t.assignee, t.overdue)
            for t in s.execute(
                select(WorkItem.id, WorkItem.state, WorkItem.assignee, WorkItem.overdue).where(
                    WorkItem.id.in_(task_ids)
                )
            )
        }
        found = [SupervisorEntry.of(row, code) for row, code in rows]
    return [
        SupervisedEntry(
            e,
            tasks.get(e.subject_id) if e.subject in TASK_SUBJECTS else None,
            e.state == EntryState.OPEN
            and e.subject in NOTE_SUBJECTS
            and may_supervise_task(actor, e.department, e.division, regions),
        )
        for e in found
    ]


def _may_reply(actor: Actor, department: str, division: str, regions: Regions) -> bool:
    """Who replies to a rectification (``rectification.reply_rectification`` asks the same)."""
    if actor.role is Role.ADMIN:
        return regions.in_scope(actor.division, division)
    return may_work_task(actor, department, division, regions)


def rectifications(
    db: Database,
    actor: Actor,
    *,
    regions: Regions,
    shown: Shown = Shown.OPEN,
    department: str | None = None,
    division: str | None = None,
) -> list[SupervisedRectification]:
    """Rectifications of the offices the reader supervises: open ones soonest due first, then replied."""
    reach = _reach(actor, regions, department, division)
    office = responsible_division(Rectification.case_id, Rectification.department, regions.default)
    office_col = office.label("division")
    query = (
        select(Rectification, office_col)
        .where(
            *_in_reach(reach, Rectification.department, office),
            *_in_state(shown, Rectification.state, RectificationState.OPEN, RectificationState.REPLIED),
        )
        .order_by(Rectification.state, Rectification.due_at, Rectification.id)
        .limit(LIMIT)
    )
    with db.read() as s:
        rows = s.execute(query).all()
        views = [RectificationView.of(row, code) for row, code in rows]
    return [
        SupervisedRectification(
            v,
            v.state == RectificationState.OPEN and _may_reply(actor, v.department, v.division, regions),
        )
        for v in views
    ]


def complaints(
    db: Database,
    actor: Actor,
    *,
    regions: Regions,
    shown: Shown = Shown.OPEN,
    department: str | None = None,
    division: str | None = None,
) -> list[SupervisedComplaint]:
    """Complaints to the offices the reader supervises: open ones soonest due first, then answered."""
    reach = _reach(actor, regions, department, division)
    office = responsible_division(Complaint.case_id, Complaint.department, regions.default)
    query = (
        select(Complaint, office.label("division"))
        .where(
            *_in_reach(reach, Complaint.department, office),
            *_in_state(shown, Complaint.state, ComplaintState.OPEN, ComplaintState.ANSWERED),
        )
        .order_by(Complaint.state.desc(), Complaint.due_at, Complaint.id)
        .limit(LIMIT)
    )
    with db.read() as s:
        rows = [(ComplaintView.of(row), code) for row, code in s.execute(query).all()]
    return [
        SupervisedComplaint(
            view,
            code,
            view.state == ComplaintState.OPEN and may_supervise_task(actor, view.department, code, regions),
        )
        for view, code in rows
    ]


@dataclass(frozen=True)
class SupervisedSuspension:
    """A suspended case with an open task at an office the reader supervises (挂起办件).

    ``departments``: the departments of its open tasks in the reader's reach; ``suspension``:
    the open suspension (``suspended_by`` is an account name: the page shows its display name);
    ``may_resume``: whether the reader may resume it (``Engine.resume`` asks the same).
    """

    case_id: int
    bundle: str
    division: str
    departments: tuple[str, ...]
    suspension: SuspensionView
    may_resume: bool


def suspended(
    db: Database,
    actor: Actor,
    *,
    regions: Regions,
    department: str | None = None,
    division: str | None = None,
) -> list[SupervisedSuspension]:
    """The suspended cases of the offices the reader supervises, the longest suspended first."""
    reach = _reach(actor, regions, department, division)
    query = (
        select(Case, CaseSuspension)
        .join(CaseSuspension, CaseSuspension.case_id == Case.id)
        .where(
            Case.status == CaseStatus.SUSPENDED.value,
            CaseSuspension.resumed_at.is_(None),
            select(WorkItem.id)
            .where(
                WorkItem.case_id == Case.id,
                WorkItem.state.in_([w.value for w in OPEN_WORK_STATES]),
                *_in_reach(reach, WorkItem.department, WorkItem.division),
            )
            .exists(),
        )
        .order_by(CaseSuspension.suspended_at, Case.id)
        .limit(LIMIT)
    )
    found: list[SupervisedSuspension] = []
    with db.read() as s:
        pairs = s.execute(query).all()
        ids = [case.id for case, _ in pairs]
        open_rows: dict[int, list[WorkItem]] = {i: [] for i in ids}
        for task in s.scalars(
            select(WorkItem).where(
                WorkItem.case_id.in_(ids), WorkItem.state.in_([w.value for w in OPEN_WORK_STATES])
            )
        ):
            open_rows[task.case_id].append(task)
        for case, row in pairs:
            tasks = open_rows[case.id]
            found.append(
                SupervisedSuspension(
                    case_id=case.id,
                    bundle=case.bundle_key,
                    division=regions.own(case.division),
                    departments=tuple(
                        sorted(
                            {
                                t.department
                                for t in tasks
                                if (reach.departments is None or t.department in reach.departments)
                                and (reach.divisions is None or t.division in reach.divisions)
                            }
                        )
                    ),
                    suspension=SuspensionView.of(row),
                    may_resume=may_suspend_case(actor, case.division, tasks, regions),
                )
            )
    return found
