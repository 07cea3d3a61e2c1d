"""Reading cases: one case as its viewer may see it (with its timeline), and lists of cases.

Owners and analysts read a case whole; a clerk whose department the case reached follows its
progress but reads only their own departments' comments and problems, and the timeline
without the details other departments wrote.

May import: ``engine.cases``, ``engine.people``, ``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from engine.cases.core import CaseCore
from engine.cases.cursors import MAX_PAGE, decode_cursor, encode_cursor
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.cases.views import CaseView, Page, TimelineEntry
from engine.people.actors import Actor, Role
from engine.storage.models import Case, CaseEvent, Deployment, WorkItem

# Timeline details any involved clerk may read: where the case is, never what others wrote.
CLERK_EVENT_KEYS = frozenset({"item", "department", "departments", "due_at", "round", "bundle", "version"})


class CaseReading(CaseCore):
    """Cases as their viewers may see them."""

    def get_case(self, actor: Actor, case_id: int) -> CaseView:
        """A case as the actor may see it: owners and analysts get data, clerks only progress."""
        with self.db.read() as s:
            case = self._visible_case(s, actor, case_id)
            items = s.scalars(select(WorkItem).where(WorkItem.case_id == case.id).order_by(WorkItem.id)).all()
            events = s.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            ).all()
            row = self.deployments.row(s, case.deployment_id)
        return self._case_view(
            case, items, events, row, full=actor.role is not Role.CLERK, viewer_departments=actor.departments
        )

    def _case_view(
        self,
        case: Case,
        items: Collection[WorkItem],
        events: Collection[CaseEvent],
        row: Deployment,
        *,
        full: bool,
        viewer_departments: Collection[str] = (),
    ) -> CaseView:
        """A case for its owner and analysts (``full``) or for an involved clerk.

        A clerk follows the case's progress but reads only their own departments' comments
        and problems, and the timeline without the details other departments wrote.
        """
        manifest = self.deployments.definition(row).manifest
        views = tuple(
            self._item_view(w, row, private=not full and w.department not in viewer_departments)
            for w in items
        )
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
                TimelineEntry(
                    e.id,
                    e.at,
                    e.actor,
                    e.kind,
                    dict(e.detail) if full else {k: v for k, v in e.detail.items() if k in CLERK_EVENT_KEYS},
                    e.work_item_id,
                )
                for e in events
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
        )

    def list_cases(
        self, actor: Actor, *, status: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> Page[CaseView]:
        """Cases the actor may see, newest first, by keyset pages."""
        limit = max(1, min(limit, MAX_PAGE))
        with self.db.read() as s:
            query = select(Case)
            if actor.role is Role.APPLICANT:
                query = query.where(Case.applicant == actor.username)
            elif actor.role is Role.CLERK:
                query = query.where(
                    Case.id.in_(
                        select(WorkItem.case_id).where(WorkItem.department.in_(sorted(actor.departments)))
                    )
                )
            elif actor.role not in (Role.ANALYST, Role.ADMIN):
                return Page((), None)
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
                views.append(self._case_view(case, items, (), row, full=actor.role is not Role.CLERK))
        next_cursor = encode_cursor([page[-1].id]) if len(cases) > limit else None
        return Page(tuple(views), next_cursor)
