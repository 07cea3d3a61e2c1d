"""Reading cases: one case as its viewer may see it (with its timeline), and lists of cases.

Owners and analysts read a case whole; a clerk whose office the case reached (or whose office
received it for another division) follows its progress but reads only the comments and
problems of the tasks they may see, and the timeline without the details others wrote.
Who may read which case is ``engine.cases.visibility``'s.

May import: ``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``,
``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select

from engine.cases.core import CaseCore
from engine.cases.cursors import MAX_PAGE, decode_cursor, encode_cursor
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.cases.store import CASE_TASK_ROWS, CASE_WITHOUT_STATE
from engine.cases.suspension_views import suspensions_of
from engine.cases.views import CaseView, Label, Page, TimelineEntry, WorkItemView, office_label
from engine.cases.visibility import decided_within, may_see_task, visible_cases
from engine.people.actors import Actor, Role
from engine.storage.models import Case, CaseEvent, Deployment, WorkItem, table_of
from engine.storage.prepared import Prepared

# Timeline details any involved clerk may read: where the case is, never what others wrote.
CLERK_EVENT_KEYS = frozenset({"item", "department", "departments", "due_at", "round", "bundle", "version"})
# A department system's troubles (failures, incidents, BPMN errors): an applicant's timeline
# keeps the line (the step is at work) with no detail but the item, never an error text.
# (The kinds of ``engine.cases.events``: ExternalTaskFailed, IncidentRaised, IncidentResolved,
# BpmnErrorThrown, HandedToClerk.)
SYSTEM_TROUBLE_KINDS = frozenset(
    {"external_task_failed", "incident_raised", "incident_resolved", "bpmn_error", "handed_to_clerk"}
)
APPLICANT_TROUBLE_KEYS = frozenset({"item"})
# A send-back or a move between steps (``engine.cases.send_back``): the applicant reads which
# department handed the case to which, never the staff's reason or the elements.
STEP_MOVE_KINDS = frozenset({"sent_back", "step_reopened", "case_moved"})
APPLICANT_MOVE_KEYS = frozenset({"item", "department", "to_item", "to_department"})
# Who in an office holds a task is the office's own business: an applicant's timeline leaves
# out reassignments, delegations and releases (``engine.cases.handover``) altogether.
STAFF_ONLY_KINDS = frozenset({"task_reassigned", "task_delegated", "task_released"})
# A move to a new version of the procedure (``engine.cases.migrations``): the applicant reads that
# the procedure was updated, never the versions or the steps' element ids.
APPLICANT_BARE_KINDS = frozenset({"case_migrated"})

# A case page (the applicant's most frequent request; every application answers with one)
# reads its rows on statements built once (``Prepared``), as plain rows: it changes nothing, so
# it needs none of the ORM's objects. The case without its workflow state (the largest
# column, never shown), its tasks and its timeline.
_CASE_EVENTS = table_of(CaseEvent)
_CASE_ROW = Prepared(CASE_WITHOUT_STATE)
_TIMELINE_ROWS = Prepared(
    select(_CASE_EVENTS).where(_CASE_EVENTS.c.case_id == bindparam("case")).order_by(_CASE_EVENTS.c.id)
)


class CaseReading(CaseCore):
    """Cases as their viewers may see them."""

    def get_case(self, actor: Actor, case_id: int) -> CaseView:
        """A case as the actor may see it: owners and analysts get data, clerks only progress."""
        with self.db.read() as s:
            case = self._seen(s, actor, case_id, _CASE_ROW.one_or_none(s, {"case": case_id}))
            items = CASE_TASK_ROWS.rows(s, {"case": case_id})
            events = _TIMELINE_ROWS.rows(s, {"case": case_id})
            row = self.deployments.row(s, case.deployment_id)
            suspensions = suspensions_of(s, case.id, names=actor.role is not Role.APPLICANT)
        view = self._case_view(
            case,
            items,
            events,
            row,
            full=actor.role is not Role.CLERK,
            viewer=actor,
            applicant=actor.role is Role.APPLICANT,
        )
        return replace(view, suspensions=suspensions) if suspensions else view

    def _case_view(
        self,
        case: Case | Row[Any],
        items: Collection[WorkItem | Row[Any]],
        events: Collection[CaseEvent | Row[Any]],
        row: Deployment,
        *,
        full: bool,
        viewer: Actor | None = None,
        applicant: bool = False,
    ) -> CaseView:
        """A case for its owner and analysts (``full``) or for an involved clerk.

        A clerk follows the case's progress but reads only the comments and problems of the
        tasks they may see (their office's; a supervisor's, the offices below too: none in a
        list, where ``viewer`` is None), and the timeline without the details others wrote.
        A receiving office (异地代收) sees the progress alone. The ``applicant`` sees a
        department system's steps only as at work (see ``for_applicant``).
        """
        manifest = self.deployments.definition(row).manifest
        views = tuple(
            self._item_view(w, row, private=not full and not self._readable(viewer, w)) for w in items
        )
        if applicant:
            views = tuple(for_applicant(v) for v in views)
        now = self.clock.now()
        done_items = {
            w.item_key for w in items if w.state == WorkItemState.COMPLETED and w.outcome == Outcome.APPROVE
        }
        total = len(manifest.items)
        if case.status == CaseStatus.COMPLETED:
            total = len(done_items) or total
        return CaseView(
            id=case.id,
            bundle=case.bundle_key,
            version=case.version,
            applicant=case.applicant,
            status=case.status,
            done=len(done_items),
            total=max(total, len(done_items)),
            tasks=views,
            timeline=tuple(
                TimelineEntry(e.id, e.at, e.actor, e.kind, _detail(e, full, applicant), e.work_item_id)
                for e in events
                if not (applicant and e.kind in STAFF_ONLY_KINDS)
            ),
            notice=case.notice if full else None,
            created_at=case.created_at,
            updated_at=case.updated_at,
            finished_at=case.finished_at,
            due_at=case.due_at,
            data=dict(case.data) if full else None,
            materials=dict(case.materials) if full else None,
            pending_materials={
                kind: {**promise, "overdue": datetime.fromisoformat(promise["due"]) < now}
                for kind, promise in case.pending_materials.items()
            },
            outputs=dict(case.outputs),
            origin_case_id=case.origin_case_id,
            code=case.code,
            division=case.division,
            division_name=Label(
                self.regions.full_name(self.regions.own(case.division), "zh"),
                self.regions.full_name(self.regions.own(case.division), "en"),
            ),
            received=(
                office_label(self.regions, case.received_department, case.received_division)
                if case.received_department is not None and case.received_division is not None
                else None
            ),
            received_division=case.received_division,
            received_department=case.received_department,
        )

    def _readable(self, viewer: Actor | None, w: WorkItem | Row[Any]) -> bool:
        """Whether the viewer may read what was written on the task (its comment and problems)."""
        return viewer is not None and may_see_task(viewer, w.department, w.division, self.regions)

    def list_cases(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        division: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[CaseView]:
        """Cases the actor may see (``visible_cases``), newest first, by keyset pages.

        ``division`` keeps the cases decided in that division's subtree (a case without a
        division is the default division's).
        """
        limit = max(1, min(limit, MAX_PAGE))
        with self.db.read() as s:
            query = select(Case).where(visible_cases(actor, self.regions))
            if division is not None:
                query = query.where(decided_within(self.regions, self.regions.subtree(division)))
            if status:
                query = query.where(Case.status == status)
            if cursor:
                (last_id,) = decode_cursor(cursor, int)
                query = query.where(Case.id < last_id)
            cases = s.scalars(query.order_by(Case.id.desc()).limit(limit + 1)).all()
            page = cases[:limit]
            views = []
            for case in page:
                row = self.deployments.row(s, case.deployment_id)
                items = s.scalars(
                    select(WorkItem).where(WorkItem.case_id == case.id).order_by(WorkItem.id)
                ).all()
                views.append(
                    self._case_view(
                        case,
                        items,
                        (),
                        row,
                        full=actor.role is not Role.CLERK,
                        applicant=actor.role is Role.APPLICANT,
                    )
                )
        next_cursor = encode_cursor([page[-1].id]) if len(cases) > limit else None
        return Page(tuple(views), next_cursor)


def for_applicant(task: WorkItemView) -> WorkItemView:
    """A task as its applicant sees it: a department system's step is at work, whatever befell it.

    An incident (``failed``) still reads as at work (the department resolves it); the error
    text, the retries left and which worker holds it stay with the staff.
    """
    if not task.by_system:
        return task
    state = WorkItemState.READY if task.state == WorkItemState.FAILED else task.state
    return replace(task, state=state, error_message=None, retries=None)


def _detail(event: CaseEvent | Row[Any], full: bool, applicant: bool) -> dict[str, Any]:
    """A timeline line's detail as the viewer may read it."""
    if not full and event.kind in STEP_MOVE_KINDS:
        return dict(event.detail)  # written for the departments: the reopened one reads why
    if not full:
        return {k: v for k, v in event.detail.items() if k in CLERK_EVENT_KEYS}
    if applicant and event.kind in SYSTEM_TROUBLE_KINDS:
        return {k: v for k, v in event.detail.items() if k in APPLICANT_TROUBLE_KEYS}
    if applicant and event.kind in APPLICANT_BARE_KINDS:
        return {}
    if applicant and event.kind in STEP_MOVE_KINDS:
        return {k: v for k, v in event.detail.items() if k in APPLICANT_MOVE_KEYS}
    return dict(event.detail)
