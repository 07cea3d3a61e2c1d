"""Who may see what of a case: the one place a department's and an office's visibility is decided.

A task belongs to an office: its department at its division (``WorkItem.division``, set by
routing). The rules:

- an applicant sees only their own cases, and no task by itself;
- a clerk sees and works the tasks of their departments at their own office's division
  (``Actor.division``; None is the default division); a supervisor (a clerk with
  ``supervisor``) also reads, and supervises (督办), those of their departments in their
  division's subtree, but claims, completes and unclaims only at their own office
  (``may_work_task``);
- analysts and admins with a division read its subtree only (分级授权); without one, everything;
- a department's system account works its department's external tasks in its division's
  subtree, and reads no case;
- a clerk reads a case with a task they may see (its progress, not its answers: the facade's
  views decide the fields), or a case their office received for another division (异地代收:
  ``Case.received_department`` one of theirs, ``Case.received_division`` their own division);
  an analyst or admin with a division reads a case decided in their subtree, or with a task there.

The list forms (``task_reach``, ``visible_cases``) state the same rules as SQL for queues and
case lists.

May import: ``engine.bpmn.runtime`` (task kinds), ``engine.people``, ``engine.regions``,
``engine.storage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from engine.bpmn.runtime import TaskKind
from engine.people.actors import Actor, Role
from engine.regions.service import Regions
from engine.storage.models import Case, WorkItem


@dataclass(frozen=True)
class TaskReach:
    """The offices whose tasks an actor reads: departments and divisions (None: every one)."""

    departments: frozenset[str] | None
    divisions: frozenset[str] | None

    def holds(self, department: str, division: str) -> bool:
        """Whether the office (department, division) is within reach."""
        return (self.departments is None or department in self.departments) and (
            self.divisions is None or division in self.divisions
        )


NOTHING = TaskReach(frozenset(), frozenset())


def _below(regions: Regions, code: str) -> frozenset[str]:
    """A division and every division under it."""
    return regions.tree().subtree(code)


def task_reach(actor: Actor, regions: Regions) -> TaskReach:
    """Whose tasks the actor reads (the list form of ``may_see_task``).

    A clerk: their departments at their own division; a supervisor: their departments in
    their division's subtree; a system account: its department in its division's subtree
    (its external tasks only: ``may_see_as_system``); analysts and admins: every department
    in their scope (no division: every division); an applicant: none.
    """
    if actor.role is Role.CLERK:
        own = regions.own(actor.division)
        return TaskReach(actor.departments, _below(regions, own) if actor.supervisor else frozenset({own}))
    if actor.role is Role.SYSTEM:
        return TaskReach(actor.departments, _below(regions, regions.own(actor.division)))
    if actor.role in (Role.ANALYST, Role.ADMIN):
        return TaskReach(None, regions.subtree(actor.division))
    return NOTHING


def may_see_task(actor: Actor, department: str, division: str, regions: Regions) -> bool:
    """Who may see a task: its office's clerks, supervisors above it, staff in scope, its system.

    A system account sees only its department's external tasks (``may_see_as_system``);
    callers that hand out a task's detail check the kind as well.
    """
    return task_reach(actor, regions).holds(department, division)


def may_work_task(actor: Actor, department: str, division: str, regions: Regions) -> bool:
    """Who may claim, complete and unclaim a task: the clerks of its own office only.

    A supervisor reads the offices below theirs but works only in their own; a clerk without
    a division works at the default division (the old ``clerk.<department>`` accounts).
    """
    return (
        actor.role is Role.CLERK
        and department in actor.departments
        and division == regions.own(actor.division)
    )


def may_see_as_system(actor: Actor, department: str, division: str, kind: str, regions: Regions) -> bool:
    """Whether a system account may see a task: an external task of its department in its subtree."""
    return (
        actor.role is Role.SYSTEM
        and kind == TaskKind.EXTERNAL
        and department in actor.departments
        and regions.in_scope(regions.own(actor.division), division)
    )


def may_supervise_task(actor: Actor, department: str, division: str, regions: Regions) -> bool:
    """Whether the actor answers for an office's stuck work: supervisors at or above it, admins in scope."""
    if actor.role is Role.ADMIN:
        return regions.in_scope(actor.division, division)
    return (
        actor.role is Role.CLERK
        and actor.supervisor
        and department in actor.departments
        and regions.in_scope(regions.own(actor.division), division)
    )


def may_see_case(session: Session, actor: Actor, case: Case | Row[Any], regions: Regions) -> bool:
    """Who may read a case: its applicant, staff who may see one of its tasks, its receiving office.

    Analysts and admins in scope of where it is decided read it too (``visible_cases``
    states the same rule as SQL).
    """
    if actor.role is Role.APPLICANT:
        return case.applicant == actor.username
    if actor.role in (Role.ANALYST, Role.ADMIN):
        if actor.division is None or regions.in_scope(actor.division, regions.own(case.division)):
            return True
    elif actor.role is Role.CLERK and actor.departments:
        if _received_here(actor, case, regions):
            return True
    else:
        return False
    reach = task_reach(actor, regions)
    found = session.scalar(_tasks_within(reach).where(WorkItem.case_id == case.id).limit(1))
    return found is not None


def visible_cases(actor: Actor, regions: Regions) -> ColumnElement[bool]:
    """The cases an actor may read, as a condition on ``Case`` (the list form of ``may_see_case``)."""
    if actor.role is Role.APPLICANT:
        return Case.applicant == actor.username
    if actor.role in (Role.ANALYST, Role.ADMIN):
        if actor.division is None:
            return true()
        return or_(
            decided_within(regions, regions.subtree(actor.division)),
            Case.id.in_(_tasks_within(task_reach(actor, regions))),
        )
    if actor.role is Role.CLERK and actor.departments:
        received = and_(
            Case.received_department.in_(sorted(actor.departments)),
            Case.received_division == regions.own(actor.division),
        )
        return or_(Case.id.in_(_tasks_within(task_reach(actor, regions))), received)
    return false()


def decided_within(regions: Regions, divisions: frozenset[str] | None) -> ColumnElement[bool]:
    """Cases decided in one of ``divisions`` (None: anywhere); a case without a division is the default's."""
    if divisions is None:
        return true()
    inside = Case.division.in_(sorted(divisions))
    return or_(inside, Case.division.is_(None)) if regions.default in divisions else inside


def _received_here(actor: Actor, case: Case | Row[Any], regions: Regions) -> bool:
    """Whether the clerk's office received the case for another division (异地代收)."""
    return (
        case.received_department is not None
        and case.received_department in actor.departments
        and case.received_division == regions.own(actor.division)
    )


def _tasks_within(reach: TaskReach) -> Select[int]:
    """The case ids of task rows within ``reach``."""
    query = select(WorkItem.case_id)
    if reach.departments is not None:
        query = query.where(WorkItem.department.in_(sorted(reach.departments)))
    if reach.divisions is not None:
        query = query.where(WorkItem.division.in_(sorted(reach.divisions)))
    return query
