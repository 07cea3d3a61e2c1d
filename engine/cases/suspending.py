"""Suspend and resume (挂起/恢复): a case waits for something outside the procedure, its clocks stopped.

A running case that waits for a court ruling, an on-site inspection, an expert review or a
公告 period, time the law leaves out of the time limit (不计入办理时限), is suspended with a
reason and its legal basis (both required). While it is suspended:

- its status is ``suspended``; nothing moves its workflow: clerks cannot claim or decide its
  tasks (``CaseSuspendedError``, 409), department systems do not get its external tasks from
  fetch-and-lock and cannot complete one they hold (Camunda 7: a suspended instance's
  external tasks are suspended, fetching skips them and completing them fails), a message
  to it finds no waiting case (Camunda's 400 ``No process definition or execution matches``:
  the sender sends it again after the resume), its BPMN timers do not fire (a timer whose
  moment passed fires on the first tick after the resume, as Camunda's jobs do);
- the applicant reads the case, follows it and may complain (投诉); they may neither withdraw
  nor supplement it: the case is frozen as a whole, and a complaint is the way to contest a
  suspension (as 政务服务 platforms do: 中止办理 stops both sides until it is lifted);
- the SLA sweep leaves it alone (only running cases are swept: no overdue mark, no warning,
  no escalation).

Resuming closes the suspension and the case runs again; its open tasks' due times, their
scheduled supervision entries and the case's promised date move by the suspended working
time (the subscriber of ``CaseResumed`` in ``engine.subscribers`` runs
``engine.deadlines.pauses.shift_due_dates``, whose ``sla_paused`` line analytics reads).

Who: a supervisor of an office working the case (an open task of the case within their
supervision, ``may_supervise_task``) or an admin in scope; the same for the resume. Anyone
else who may see the case is refused (403); who may not see it does not find it (404).

May import: ``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.events import CaseResumed, CaseSuspended
from engine.cases.reading import CaseReading
from engine.cases.states import FINISHED_CASE_STATES, OPEN_WORK_STATES, CaseStatus
from engine.cases.store import OpenCase
from engine.cases.suspension_rows import CaseSuspension
from engine.cases.views import CaseView
from engine.cases.visibility import may_supervise_task
from engine.errors import CaseSuspendedError, Conflict, InvalidInput, NotAllowed, Problem
from engine.people.actors import Actor, Role
from engine.regions.service import Regions
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Case, WorkItem
from engine.storage.spine import emit

# The longest reason, legal basis and note kept (the REST schema says the same).
MAX_TEXT = 2000


class Suspending(CaseReading):
    """Suspending and resuming cases, and who may (see the module docstring)."""

    def may_suspend(self, actor: Actor, case_id: int) -> bool:
        """Whether the actor may suspend or resume the case (its page offers the forms only then)."""
        if actor.role not in (Role.CLERK, Role.ADMIN):
            return False
        with self.db.read() as s:
            case = s.get(Case, case_id)
            if case is None:
                return False
            rows = s.scalars(select(WorkItem).where(WorkItem.case_id == case_id)).all()
            return self._supervises(s, actor, case, rows)

    def suspended_cases(self, case_ids: Iterable[int]) -> frozenset[int]:
        """Which of these cases are suspended (a queue marks their tasks and offers no claim)."""
        wanted = sorted(set(case_ids))
        if not wanted:
            return frozenset()
        with self.db.read() as s:
            found = s.scalars(
                select(Case.id).where(Case.id.in_(wanted), Case.status == CaseStatus.SUSPENDED.value)
            )
            return frozenset(found)

    def _supervises(self, session: Session, actor: Actor, case: Case, rows: Iterable[WorkItem]) -> bool:
        """An admin in scope of the case, or a supervisor of an office with an open task of it."""
        return may_suspend_case(actor, case.division, rows, self.regions)

    def _checked_actor(self, actor: Actor, case_id: int) -> None:
        """404 for a case the actor may not see, 403 for one they see but may not suspend."""
        with self.db.read() as s:
            self._visible_case(s, actor, case_id)
        if actor.role not in (Role.CLERK, Role.ADMIN):
            raise NotAllowed("只有督办人员和管理员可以挂起或恢复办件 (only supervisors and admins)")

    def _allowed_on_lock(self, oc: OpenCase, actor: Actor) -> None:
        """The permission again on the locked case (its open tasks may have moved on meanwhile)."""
        if not self._supervises(oc.session, actor, oc.case, oc.rows):
            raise NotAllowed(
                "只有办理此办件的机构的督办人员或管理员可以挂起或恢复 "
                "(only a supervisor of an office working the case, or an admin in scope)"
            )

    def suspend(
        self,
        actor: Actor,
        case_id: int,
        reason: str,
        legal_basis: str,
        *,
        reservation: Reservation | None = None,
    ) -> CaseView:
        """Suspend a running case with a reason and a legal basis; its clocks stop until the resume.

        409 for a case already suspended, waiting for the applicant (its clocks already stand
        still: the notice is what it waits for) or finished.
        """
        reason, legal_basis = reason.strip(), legal_basis.strip()
        problems = _required(
            ("reason", reason, "暂停原因", "reason"), ("legal_basis", legal_basis, "法律依据", "legal basis")
        )
        self._checked_actor(actor, case_id)
        if problems:
            raise InvalidInput(f"挂起有 {len(problems)} 处问题", problems)

        def change(oc: OpenCase) -> None:
            self._allowed_on_lock(oc, actor)
            status = oc.case.status
            if status == CaseStatus.SUSPENDED:
                raise CaseSuspendedError("办件已处于挂起状态 (the case is already suspended)")
            if status in FINISHED_CASE_STATES:
                raise Conflict("办件已结束，不能挂起 (the case is finished)")
            if status != CaseStatus.RUNNING:
                raise Conflict(
                    "办件正等待申请人补正，时限已暂停，不能挂起 "
                    "(the case waits for the applicant: its clocks already stand still)"
                )
            row = CaseSuspension(
                case_id=oc.case.id,
                suspended_at=oc.now,
                suspended_by=actor.username,
                reason=reason,
                legal_basis=legal_basis,
                resume_note="",
                working_seconds=0.0,
            )
            oc.session.add(row)
            oc.session.flush()
            oc.case.status = CaseStatus.SUSPENDED
            record_outcome(oc.session, reservation, outcome_ref("case", oc.case.id))
            emit(
                oc.session,
                CaseSuspended(
                    case_id=oc.case.id,
                    at=oc.now,
                    actor=actor.username,
                    reason=reason,
                    legal_basis=legal_basis,
                    suspension_id=row.id,
                ),
            )

        self._mutate(case_id, change)
        return self.get_case(actor, case_id)

    def resume(
        self, actor: Actor, case_id: int, note: str = "", *, reservation: Reservation | None = None
    ) -> CaseView:
        """Resume a suspended case: it runs again, its due times moved by the suspended working time.

        409 for a case that is not suspended.
        """
        note = note.strip()
        self._checked_actor(actor, case_id)

        def change(oc: OpenCase) -> None:
            self._allowed_on_lock(oc, actor)
            if oc.case.status != CaseStatus.SUSPENDED:
                raise Conflict("办件未处于挂起状态 (the case is not suspended)")
            row = oc.session.scalars(
                select(CaseSuspension)
                .where(CaseSuspension.case_id == oc.case.id, CaseSuspension.resumed_at.is_(None))
                .order_by(CaseSuspension.id.desc())
                .limit(1)
            ).one()
            row.resumed_at = oc.now
            row.resumed_by = actor.username
            row.resume_note = note
            row.working_seconds = self.calendar.working_time_between(row.suspended_at, oc.now).total_seconds()
            oc.case.suspended_seconds = (oc.case.suspended_seconds or 0.0) + row.working_seconds
            oc.case.status = CaseStatus.RUNNING
            record_outcome(oc.session, reservation, outcome_ref("case", oc.case.id))
            # The SLA clock follows this event: due times move by the suspended working time.
            emit(
                oc.session,
                CaseResumed(
                    case_id=oc.case.id,
                    at=oc.now,
                    actor=actor.username,
                    note=note,
                    suspension_id=row.id,
                    suspended_from=row.suspended_at,
                ),
            )
            # Its external tasks are fetchable again: wake the long-polling fetches.
            oc.after_commit.append(self.store.notify_external)

        self._mutate(case_id, change)
        return self.get_case(actor, case_id)


def _required(*fields: tuple[str, str, str, str]) -> list[Problem]:
    """A problem for each blank or too long text of (where, value, zh name, en name)."""
    problems: list[Problem] = []
    for where, value, zh, en in fields:
        if not value:
            problems.append(
                Problem(f"请填写{zh}", where=where, rule="required", message_en=f"{en} is required")
            )
        elif len(value) > MAX_TEXT:
            problems.append(
                Problem(
                    f"{zh}不能超过 {MAX_TEXT} 字",
                    where=where,
                    rule="too-long",
                    message_en=f"{en} is longer than {MAX_TEXT} characters",
                )
            )
    return problems


def may_suspend_case(actor: Actor, division: str | None, rows: Iterable[WorkItem], regions: Regions) -> bool:
    """Who suspends and resumes a case of ``division`` whose tasks are ``rows`` (the desk asks it too):
    an admin in scope of the case, or a supervisor of an office with an open task of it."""
    if actor.role is Role.ADMIN:
        return actor.division is None or regions.in_scope(actor.division, regions.own(division))
    return any(
        r.state in OPEN_WORK_STATES and may_supervise_task(actor, r.department, r.division, regions)
        for r in rows
    )
