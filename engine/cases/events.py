"""Every kind of thing that happens to a case, as one typed event each (the spine's vocabulary).

Each class is one line kind of the audit trail (``KIND``) with its detail as fields, in the
order the line shows them; ``engine.storage.spine`` writes the line and runs subscribers.
The parts that follow cases (analytics, the SLA clock, feedback, and later the outbox,
notifications and regional reporting) subscribe to these classes instead of being called
by the code that changes cases. Adding a kind here is how a new happening becomes visible
to all of them; subscribers that take every kind see it at once.

Fields marked ``field(metadata=UNAUDITED)`` are for subscribers only (the audit line keeps its shape).

May import: ``engine.storage`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.storage.spine import UNAUDITED, Event

# -- applying and supplementing -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Submitted(Event):
    """The applicant applied: one form, one set of materials (some reused, some promised)."""

    KIND = "submitted"
    bundle: str
    version: int
    materials: list[str]
    reused_certificates: list[str]
    promised: list[str]
    origin_case_id: int | None


@dataclass(frozen=True, kw_only=True)
class ReceivedAtWindow(Event):
    """A clerk received the application at a window for the applicant (异地代收 when ``decided_in`` differs).

    ``department`` at ``division`` is the receiving office (it follows the case's progress);
    ``decided_in`` is the case's division, whose offices decide it. The actor is the clerk.
    """

    KIND = "received_at_window"
    applicant: str
    department: str
    division: str
    decided_in: str


@dataclass(frozen=True, kw_only=True)
class NoticeIssued(Event):
    """Every department's returns of a round gathered into one correction notice (一次性告知)."""

    KIND = "notice_issued"
    round: int
    departments: list[str]
    problems: int


@dataclass(frozen=True, kw_only=True)
class Supplemented(Event):
    """The applicant answered the notice or delivered promised materials (容缺受理).

    ``waited_from`` is when the notice was issued, if the case was waiting for the applicant:
    the departments' clocks stood still from then until ``at``.
    """

    KIND = "supplemented"
    round: int
    fields: list[str]
    materials: list[str]
    promises_kept: list[str]
    waited_from: datetime | None = field(metadata=UNAUDITED)


@dataclass(frozen=True, kw_only=True)
class Withdrawn(Event):
    """The applicant withdrew an unfinished case."""

    KIND = "withdrawn"


# -- department tasks ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TaskCreated(Event):
    """A department task joined its queue."""

    KIND = "task_created"
    item: str
    department: str
    due_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class TaskCancelled(Event):
    """A queued task is no longer needed (the route changed, or the case ended)."""

    KIND = "task_cancelled"
    item: str


@dataclass(frozen=True, kw_only=True)
class TaskClaimed(Event):
    """A clerk took a task from the queue."""

    KIND = "claimed"
    item: str
    # The claimer's department (the task's): the outbox files the event under it without reading the row.
    department: str | None = field(default=None, metadata=UNAUDITED)


@dataclass(frozen=True, kw_only=True)
class TaskUnclaimed(Event):
    """A clerk put a claimed task back in the queue."""

    KIND = "unclaimed"
    item: str


@dataclass(frozen=True, kw_only=True)
class TaskApproved(Event):
    """A clerk approved a task; the workflow runs on."""

    KIND = "approved"
    item: str
    comment: str


@dataclass(frozen=True, kw_only=True)
class TaskReturned(Event):
    """A clerk returned a task with the problems found; it joins the round's one notice."""

    KIND = "returned"
    item: str
    comment: str
    problems: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class CertificateIssued(Event):
    """An approved item issued an electronic certificate (电子证照) to the case."""

    KIND = "certificate_issued"
    kind: str
    material_id: str
    item: str


@dataclass(frozen=True, kw_only=True)
class CertificateRevoked(Event):
    """An issued certificate was revoked (吊销/注销): its verification page says so from now on."""

    KIND = "certificate_revoked"
    kind: str
    number: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class TimerFired(Event):
    """A BPMN timer of the case came due and fired."""

    KIND = "timer_fired"
    due: str


# -- the end of a case, and what follows it -------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaseFinished(Event):
    """The workflow reached its end; ``KIND`` says how (subclasses)."""

    KIND = "finished"
    outputs: list[str]


@dataclass(frozen=True, kw_only=True)
class Completed(CaseFinished):
    """The case ended with every item approved."""

    KIND = "completed"


@dataclass(frozen=True, kw_only=True)
class Rejected(CaseFinished):
    """The case ended on a rejecting route."""

    KIND = "rejected"


@dataclass(frozen=True, kw_only=True)
class FollowOnDue(Event):
    """A completed case starts a follow-on bundle without an application (免申即享)."""

    KIND = "follow_on_due"
    bundle: str
    data: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class FollowOnStarted(Event):
    """The follow-on case started (recorded on the origin case)."""

    KIND = "follow_on_started"
    bundle: str
    started_case_id: int = field(metadata={"audit_name": "case_id"})


@dataclass(frozen=True, kw_only=True)
class FollowOnFailed(Event):
    """The follow-on case could not start; the applicant can still apply by hand."""

    KIND = "follow_on_failed"
    bundle: str
    error: str


# -- time limits (限时办结) ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TaskOverdue(Event):
    """A task passed its due time unfinished."""

    KIND = "overdue"
    item: str
    department: str
    due_at: str
    assignee: str | None
    bundle: str = field(metadata=UNAUDITED)


@dataclass(frozen=True, kw_only=True)
class Escalated(Event):
    """A late task went to the supervisors' queue (督办)."""

    KIND = "escalated"
    item: str
    department: str
    due_at: str
    escalation_id: int


@dataclass(frozen=True, kw_only=True)
class EscalationResolved(Event):
    """A supervisor resolved an escalation."""

    KIND = "escalation_resolved"
    escalation_id: int
    department: str
    note: str


@dataclass(frozen=True, kw_only=True)
class ClocksPaused(Event):
    """The departments' clocks stood still while the case waited for the applicant."""

    KIND = "sla_paused"
    paused_from: str = field(metadata={"audit_name": "from"})
    paused_to: str = field(metadata={"audit_name": "to"})
    working_seconds: float
    items: dict[str, str]
    case_due_at: str | None


# -- ratings and complaints (好差评) ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Rated(Event):
    """The applicant rated the case, or one department of it."""

    KIND = "rated"
    rating_id: int
    score: int
    level: str
    comment: str
    department: str


@dataclass(frozen=True, kw_only=True)
class RectificationOpened(Event):
    """A bad rating opened a rectification task in the responsible department."""

    KIND = "rectification_opened"
    rectification_id: int
    rating_id: int
    department: str
    due_at: str


@dataclass(frozen=True, kw_only=True)
class RectificationReplied(Event):
    """The responsible department answered a bad rating."""

    KIND = "rectification_replied"
    rectification_id: int
    department: str
    reply: str
    on_time: bool


@dataclass(frozen=True, kw_only=True)
class RectificationOverdue(Event):
    """A rectification was not answered in time and went to the supervisors."""

    KIND = "rectification_overdue"
    rectification_id: int
    department: str
    due_at: str


@dataclass(frozen=True, kw_only=True)
class ComplaintFiled(Event):
    """An applicant complained (办不成事反映), on a case or (``case_id`` None) without one."""

    KIND = "complaint"
    complaint_id: int
    department: str
    text: str
    bundle: str | None = field(metadata=UNAUDITED)


@dataclass(frozen=True, kw_only=True)
class ComplaintAnswered(Event):
    """A supervisor answered a complaint."""

    KIND = "complaint_answered"
    complaint_id: int
    department: str
    reply: str


# -- departments' own systems (external tasks) ---------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ExternalTaskFailed(Event):
    """A department system reported that it could not do an external task; ``retries`` are left.

    The error text is for the department and its supervisors (on the task row); the audit
    line, which the applicant's timeline shows, leaves it out.
    """

    KIND = "external_task_failed"
    item: str
    retries: int
    error_message: str = field(metadata=UNAUDITED)


@dataclass(frozen=True, kw_only=True)
class IncidentRaised(Event):
    """An external task ran out of retries: an incident for the department's supervisors."""

    KIND = "incident_raised"
    item: str
    department: str


@dataclass(frozen=True, kw_only=True)
class IncidentResolved(Event):
    """An incident ended: ``how`` is "retries" (the system tries again) or "handed_to_clerk"."""

    KIND = "incident_resolved"
    item: str
    department: str
    how: str


@dataclass(frozen=True, kw_only=True)
class BpmnErrorThrown(Event):
    """A department system reported a business error (BPMN error) on an external task.

    ``caught``: an error boundary event took the case on its route; otherwise the task
    became an incident.
    """

    KIND = "bpmn_error"
    item: str
    error_code: str
    caught: bool
    error_message: str = field(metadata=UNAUDITED)


@dataclass(frozen=True, kw_only=True)
class HandedToClerk(Event):
    """A supervisor gave a department system's task to the department's clerks (人工兜底)."""

    KIND = "handed_to_clerk"
    item: str
    department: str
    reason: str


# -- sending back and moving running cases (退回到指定环节) ----------------------------------


@dataclass(frozen=True, kw_only=True)
class SentBack(Event):
    """A clerk or supervisor sent the case back from a task to an earlier step, with a reason.

    ``work_item_id`` is the task sent back from; ``department`` and ``item`` are its own,
    ``to_department`` and ``to_item`` the reopened step's. ``between_departments`` says
    whether it went to another department (what analytics counts as such a return).
    """

    KIND = "sent_back"
    item: str
    department: str
    to_item: str
    to_department: str
    between_departments: bool
    reason: str


# -- handing tasks over (转办, 委托, release to the queue) ----------------------------------------


@dataclass(frozen=True, kw_only=True)
class TaskReassigned(Event):
    """A supervisor gave a claimed task to another clerk of its office (转办), with a reason (internal)."""

    KIND = "task_reassigned"
    item: str
    previous: str = field(metadata={"audit_name": "from"})
    to: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class StepReopened(Event):
    """An earlier decision was reopened by a send-back or a move: ``work_item_id`` is the decided task.

    Its department decides again in a new task; ``from_department`` sent it back (None: a
    supervisor's move).
    """

    KIND = "step_reopened"
    item: str
    department: str
    from_department: str | None


@dataclass(frozen=True, kw_only=True)
class CaseMoved(Event):
    """A supervisor moved the case to another waiting point (the escape hatch), with a reason.

    ``before`` and ``after`` are the BPMN element ids the case waited at before and after.
    """

    KIND = "case_moved"
    to_item: str
    to_department: str
    before: list[str]
    after: list[str]
    reason: str


# -- suspension (挂起/恢复) -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaseSuspended(Event):
    """A supervisor or admin suspended a running case, with a reason and its legal basis.

    The case waits for something outside the procedure that the law leaves out of the time
    limit (不计入办理时限); nothing moves it until ``CaseResumed``.
    """

    KIND = "suspended"
    reason: str
    legal_basis: str
    suspension_id: int


@dataclass(frozen=True, kw_only=True)
class CaseResumed(Event):
    """A suspended case runs again; the SLA clock moves its due times by the suspended working time.

    ``suspended_from`` is when the suspension began (subscribers stop the clocks from then to ``at``).
    """

    KIND = "resumed"
    note: str
    suspension_id: int
    suspended_from: datetime = field(metadata=UNAUDITED)


@dataclass(frozen=True, kw_only=True)
class TaskDelegated(Event):
    """A clerk handed their claimed task to another clerk of the office (委托), with a note (internal)."""

    KIND = "task_delegated"
    item: str
    to: str
    note: str


@dataclass(frozen=True, kw_only=True)
class TaskReleased(Event):
    """A clerk's claimed task went back to the office queue (on leave): by the clerk or a supervisor."""

    KIND = "task_released"
    item: str
    clerk: str
    reason: str = ""  # why a supervisor released them (leave, 转办); the clerk's own release says none


# -- version migration ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaseMigrated(Event):
    """An admin or analyst moved the running case to a newer version of its bundle (版本迁移).

    ``moved`` lists each waiting step as ``{"from", "to", "department"}`` (element ids);
    ``new_steps`` the steps of the new version the case now also waits at.
    """

    KIND = "case_migrated"
    bundle: str
    from_version: int
    to_version: int
    moved: list[dict[str, Any]]
    new_steps: list[str]
    plan_id: int
    run_id: int | None


# -- certificates superseded by a re-decided step -------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CertificateSuperseded(Event):
    """A step decided again (after a send-back) issued a new certificate; the earlier one is revoked.

    ``number`` is the earlier certificate's, now revoked with ``reason``; ``new_number`` the
    one issued in the same transaction that takes its place; ``item`` the re-decided step.
    """

    KIND = "certificate_superseded"
    kind: str
    item: str
    number: str
    new_number: str
    reason: str


# -- material pre-review (智能预审) ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MaterialReviewed(Event):
    """The worker read a material and compared it with the form (advice to applicant and clerk).

    Counts only: the values read from a document are personal data and never reach the
    audit trail. ``case_id`` is None while the material belongs to no application yet; the
    submission then writes the line on the new case (``engine.review.submission``).
    """

    KIND = "material_reviewed"
    kind: str
    material: str
    status: str
    fields_read: int
    mismatches: int
