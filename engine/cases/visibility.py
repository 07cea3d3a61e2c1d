"""Who may see what of a case: the one place a department's visibility is decided.

An applicant sees only their own cases; a clerk sees a task of their department and a case
that reached one of their departments (its progress, not its answers: the facade's views
decide the fields); a department's system account sees its department's external tasks
(with their materials) and no case; analysts and admins see everything.

May import: ``engine.bpmn.runtime`` (task kinds), ``engine.people``, ``engine.storage``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.runtime import TaskKind
from engine.people.actors import Actor, Role
from engine.storage.models import Case, WorkItem


def may_see_task(actor: Actor, department: str) -> bool:
    """Who may see a task: analysts and admins, the clerks of its department, and its system account.

    A system account sees only its department's external tasks (``may_see_as_system``);
    callers that hand out a task's detail check the kind as well.
    """
    if actor.role in (Role.CLERK, Role.SYSTEM):
        return department in actor.departments
    return actor.role in (Role.ANALYST, Role.ADMIN)


def may_see_as_system(actor: Actor, department: str, kind: str) -> bool:
    """Whether a system account may see a task: an external task of its own department, nothing else."""
    return actor.role is Role.SYSTEM and kind == TaskKind.EXTERNAL and department in actor.departments


def may_see_case(session: Session, actor: Actor, case: Case) -> bool:
    """Who may read a case: its applicant, analysts and admins, and clerks of a department it reached."""
    if actor.role in (Role.ANALYST, Role.ADMIN):
        return True
    if actor.role is Role.APPLICANT:
        return case.applicant == actor.username
    if actor.role is Role.CLERK and actor.departments:
        found = session.scalar(
            select(WorkItem.id)
            .where(WorkItem.case_id == case.id, WorkItem.department.in_(sorted(actor.departments)))
            .limit(1)
        )
        return found is not None
    return False


def may_supervise_task(actor: Actor, department: str) -> bool:
    """Whether the actor answers for a department's stuck work: its supervisors, and admins."""
    if actor.role is Role.ADMIN:
        return True
    return actor.role is Role.CLERK and actor.supervisor and department in actor.departments
