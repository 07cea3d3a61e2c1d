"""Who follows cases: the one place that subscribes the followers of cases to the event spine.

The case path (``engine.cases``), the SLA clock and feedback emit typed events
(``engine.cases.events``) and know nothing of who listens; this module is where the
listeners are named. Each runs inside the transaction of the change it follows, so what it
writes (analytics aggregates, shifted due dates) commits or rolls back with the case:

- analytics counts completed tasks, finished cases, ratings, complaints and tasks that went
  overdue (``engine.analytics.recording``); completions and finished cases are queued just
  before the commit (``engine.analytics.deferred``) and added to the shared aggregate rows
  in batches afterwards (``engine.analytics.projection``);
- the SLA clock (``engine.deadlines.pauses``) stops the departments' clocks for the time a
  case waited for the applicant, when the supplement resumes it, and for the time a case
  was suspended (挂起), when it is resumed;
- supervision (``engine.deadlines.supervision``) puts a department system's incident in the
  department's supervisor queue and closes it when the incident is resolved;
- the message centre (``engine.portal.notifications``) writes messages to the clerks of an
  office with a new task and to applicants (correction notice, case finished, answers), each
  also an outbound ``Notified`` event;
- drafts (``engine.portal.drafts``) discard the applicant's saved draft of a bundle when the
  application is submitted;
- the outbox (``engine.integration.outbox``) takes every event, and its webhook deliveries,
  in the same transaction; the worker sends them afterwards.

Every subscriber has a stable name, so subscribing again (a second ``Engine`` on the same
``Database``) replaces it instead of counting everything twice.

May import: ``engine.analytics``, ``engine.integration``, ``engine.portal``, ``engine.deadlines``,
``engine.feedback``, ``engine.cases``, ``engine.regions``, ``engine.storage``, ``engine.time``,
``forms`` (the catalog).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.analytics.deferred import later
from engine.analytics.recording import (
    DEFAULT_DIVISION,
    case_division,
    record_case_finished,
    record_complaint,
    record_completion,
    record_rating,
    record_went_overdue,
)
from engine.cases.events import (
    CaseFinished,
    CaseResumed,
    ComplaintFiled,
    IncidentRaised,
    IncidentResolved,
    Rated,
    Submitted,
    Supplemented,
    TaskApproved,
    TaskOverdue,
    TaskReturned,
    Withdrawn,
)
from engine.deadlines.pauses import shift_due_dates
from engine.deadlines.supervision import close_incident, open_incident
from engine.integration import outbox
from engine.portal.drafts import discard_on_submit
from engine.portal.notifications import Notifier
from engine.regions.service import Regions
from engine.storage.models import Case, WorkItem
from engine.storage.spine import Spine
from engine.time.calendar import WorkCalendar
from forms.catalog import Catalog


def _case(session: Session, case_id: int | None) -> Case:
    """The case an event names (an identity-map hit inside the facade's transaction)."""
    case = session.get(Case, case_id) if case_id is not None else None
    if case is None:
        raise LookupError(f"the event names no case that exists (case {case_id})")
    return case


def subscribe_followers(
    spine: Spine,
    calendar: WorkCalendar,
    catalog: Catalog,
    default_division: str = DEFAULT_DIVISION,
    regions: Regions | None = None,
) -> None:
    """Subscribe analytics and the SLA clock to the events of cases (again: replaces them).

    ``default_division`` is the settings' (``Settings.default_division``): analytics counts
    cases from before regions, which name no division, for it. ``regions`` names the
    departments in the message centre's messages, ``catalog`` the certificates.
    """

    def count_completion(session: Session, event: TaskApproved | TaskReturned) -> None:
        # Emitted right after the task row got its outcome: the row and case are the ones
        # the facade holds, so both ``get``s are identity-map hits.
        item = session.get(WorkItem, event.work_item_id) if event.work_item_id is not None else None
        if item is None:
            raise LookupError(f"the event names no task that exists (task {event.work_item_id})")
        case = _case(session, event.case_id)
        # Queued last in the transaction, from the task as the action leaves it.
        later(
            session,
            lambda: record_completion(session, item, calendar, case=case, default_division=default_division),
        )

    def count_finished_case(session: Session, event: CaseFinished | Withdrawn) -> None:
        case = _case(session, event.case_id)
        later(
            session, lambda: record_case_finished(session, case, calendar, default_division=default_division)
        )

    def count_rating(session: Session, event: Rated) -> None:
        record_rating(
            session,
            _case(session, event.case_id),
            event.department,
            event.score,
            event.at,
            calendar,
            default_division=default_division,
        )

    def count_complaint(session: Session, event: ComplaintFiled) -> None:
        division = default_division
        if event.case_id is not None:
            division = case_division(_case(session, event.case_id), default_division)
        record_complaint(session, event.bundle or "", event.department, event.at, calendar, division=division)

    def count_went_overdue(session: Session, event: TaskOverdue) -> None:
        # The sweep emits from plain rows (no task object in the session): read the office's division.
        division = (
            session.connection()
            .execute(select(WorkItem.division).where(WorkItem.id == event.work_item_id))
            .scalar_one_or_none()
        )
        record_went_overdue(
            session, event.bundle, event.department, event.at, calendar, division=division or default_division
        )

    def stop_clocks_while_waiting(session: Session, event: Supplemented) -> None:
        # Emitted before the new round's rows are synced: only the rows that waited move.
        if event.waited_from is not None and event.case_id is not None:
            shift_due_dates(session, event.case_id, event.waited_from, event.at, calendar)

    def stop_clocks_while_suspended(session: Session, event: CaseResumed) -> None:
        # 挂起: the clocks stood still from the suspension to this resume (working time).
        if event.case_id is not None:
            shift_due_dates(session, event.case_id, event.suspended_from, event.at, calendar)

    spine.subscribe("deadlines.pause", stop_clocks_while_waiting, Supplemented)
    spine.subscribe("deadlines.suspension", stop_clocks_while_suspended, CaseResumed)
    spine.subscribe("analytics.completion", count_completion, TaskApproved, TaskReturned)
    spine.subscribe("analytics.case_finished", count_finished_case, CaseFinished, Withdrawn)
    spine.subscribe("analytics.rating", count_rating, Rated)
    spine.subscribe("analytics.complaint", count_complaint, ComplaintFiled)
    spine.subscribe("analytics.went_overdue", count_went_overdue, TaskOverdue)
    spine.subscribe("deadlines.incident_opened", open_incident, IncidentRaised)
    spine.subscribe("deadlines.incident_closed", close_incident, IncidentResolved)
    spine.subscribe("portal.discard_draft", discard_on_submit, Submitted)
    notifier = Notifier(default_division, catalog, regions, calendar.tz)
    spine.subscribe("portal.notifications", notifier.follow, *Notifier.KINDS)
    spine.subscribe("integration.outbox", outbox.record)  # every kind, present and future
