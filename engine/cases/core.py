"""The base of the case facade: its collaborators, the locked-case transaction, what all parts share.

The facade (``engine.cases.facade.CaseFacade``) is a few mixins by concept over this one
base: bundles, reading cases, queues, applying, task actions, timers. The base holds the
collaborators (database, clock, calendar, deployments, materials, runner, case store),
which the composition root (``engine.service.Engine``) builds and hands in, and what every
part uses: ``_mutate`` (one transaction on a locked case, retried when another writer won
a race), who may see a case or task (``engine.cases.visibility``, with the regions), and a
task row as a view (with its office's name).

The facade changes cases and says what happened by emitting typed events
(``engine.cases.events``) on the spine; it never calls the parts that follow cases
(analytics, the SLA clock, feedback), which subscribe in ``engine.subscribers``.

May import: ``engine.cases``, ``engine.bpmn``, ``engine.people``, ``engine.regions``,
``engine.storage``, ``engine.time``, ``engine.errors``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Row
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.bpmn.deployments import Deployments
from engine.bpmn.runtime import Runner
from engine.cases.materials import MaterialService
from engine.cases.store import CaseStore, OpenCase
from engine.cases.views import Label, WorkItemView, office_label
from engine.cases.visibility import may_see_case, may_see_task
from engine.errors import CaseNotFound, Problem, StaleCase, WorkItemNotFound
from engine.people.actors import Actor
from engine.regions.service import Regions
from engine.storage.db import Database
from engine.storage.models import Case, Deployment, WorkItem
from engine.storage.settings import Settings
from engine.time.calendar import WorkCalendar
from engine.time.clock import Clock
from forms.catalog import Catalog
from forms.merge import MergedForm

T = TypeVar("T")
C = TypeVar("C", Case, Row[Any])  # a case as an object of the session, or a row of its columns
STALE_RETRIES = 5


class CaseCore:
    """The collaborators of the case facade and the helpers all its parts share."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database,
        clock: Clock,
        catalog: Catalog,
        calendar: WorkCalendar,
        deployments: Deployments,
        materials: MaterialService,
        runner: Runner,
        store: CaseStore,
        regions: Regions,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.catalog = catalog
        self.calendar = calendar
        self.deployments = deployments
        self.materials = materials
        self.runner = runner
        self.store = store
        self.regions = regions

    def _mutate(self, case: int | Callable[[Session], int], change: Callable[[OpenCase], T]) -> T:
        """Run ``change`` on a locked case and save it, retrying when another writer won a race.

        ``case`` is the case id, or a function that finds it inside the same transaction (a
        task action locates its case through the task row: one transaction per action).
        """
        locate = case if callable(case) else lambda _session: case
        for _attempt in range(STALE_RETRIES):
            case_id: int | None = None  # unknown until located (locating may fail)
            try:
                with self.db.write() as session:
                    case_id = locate(session)
                    oc = self.store.open(session, case_id)
                    result = change(oc)
                    self.store.save(oc)
            except BaseException as exc:
                if case_id is not None:
                    self.store.cache.forget(case_id)
                if isinstance(exc, StaleDataError):
                    continue
                raise
            self.store.remember(oc)
            for hook in oc.after_commit:
                hook()
            return result
        raise StaleCase("办件正被他人同时修改，请重试 (the case changed concurrently; try again)")

    def _visible_case(self, session: Session, actor: Actor, case_id: int) -> Case:
        """The case if the actor may see it (else ``CaseNotFound``)."""
        return self._seen(session, actor, case_id, session.get(Case, case_id))

    def _seen(self, session: Session, actor: Actor, case_id: int, case: C | None) -> C:
        """``case`` (a ``Case`` or a row of its columns) if the actor may see it, else ``CaseNotFound``.

        An unknown id and a case the actor may not see get the same answer, so ids cannot be probed.
        """
        if case is None or not may_see_case(session, actor, case, self.regions):
            raise CaseNotFound(f"没有这个办件 (no case {case_id})")
        return case

    def _visible_item(self, session: Session, actor: Actor, work_item_id: int) -> WorkItem:
        row = session.get(WorkItem, work_item_id)
        if row is None or not may_see_task(actor, row.department, row.division, self.regions):
            raise WorkItemNotFound(f"没有这个任务 (no task {work_item_id})")
        return row

    def _item_view(self, w: WorkItem | Row[Any], row: Deployment, *, private: bool = False) -> WorkItemView:
        """A task row as a view; ``private`` leaves out what its clerk wrote (for other departments)."""
        try:
            item = self.deployments.definition(row).manifest.item(w.item_key)
            label = Label(item.name.zh, item.name.en)
        except KeyError:
            label = Label(w.item_key, w.item_key)
        return WorkItemView(
            id=w.id,
            case_id=w.case_id,
            bundle=w.bundle_key,
            version=row.version,
            item=w.item_key,
            item_name=label,
            task_name=w.task_name,
            department=w.department,
            division=w.division,
            office=office_label(self.regions, w.department, w.division),
            state=w.state,
            assignee=w.assignee,
            round=w.round,
            created_at=w.created_at,
            due_at=w.due_at,
            claimed_at=w.claimed_at,
            completed_at=w.completed_at,
            outcome=w.outcome,
            comment="" if private else w.comment,
            problems=() if private else tuple(w.problems),
            overdue=w.overdue,
            kind=w.kind,
            error_message=None if private else w.error_message,
            retries=w.retries,
        )


def problems_from_form(problems: list[Any]) -> list[Problem]:
    """The form's problems (``forms``) as the engine's ``Problem``s."""
    return [
        Problem(
            p.message,
            where=p.field,
            rule=p.rule,
            message_en=p.message_en,
            extra={"kind": p.kind, **({"fields": list(p.fields)} if getattr(p, "fields", ()) else {})},
        )
        for p in problems
    ]


def with_decisions(case_data: Mapping[str, Any], approved: Iterable[WorkItem | Row[Any]]) -> dict[str, Any]:
    """The application's answers with the decisions of approved tasks (rows with their ``decision``),
    later ones over earlier: what conditions may name."""
    data = dict(case_data)
    for item in approved:
        data.update(item.decision)
    return data


def form_materials(form: MergedForm) -> set[str]:
    """Every material kind the form's checklist knows."""
    return {entry.kind for entry in form.checklist()}
