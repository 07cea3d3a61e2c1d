"""The engine facade: one ``Engine`` per process, used by the API, the pages, the CLI and tests.

Every method takes the acting person (``Actor``) and enforces what they may see and do, so
the rules hold the same everywhere. Mutations of a case run in one transaction with the
case row locked (see ``engine.cases.store``); claims are a single conditional UPDATE, so exactly
one of many concurrent claimers wins.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.analytics import recording as analytics
from engine.bpmn.deployments import Deployed, Deployments
from engine.bpmn.expressions import evaluate
from engine.bpmn.manifest import outcome_key as outcome_key  # re-exported: benches use it here
from engine.bpmn.model_metrics import model_reductions, promised_days
from engine.bpmn.runtime import Runner
from engine.cases import supplement_scope
from engine.cases.materials import FileBlobStore, MaterialService
from engine.cases.states import FINISHED_CASE_STATES, OPEN_WORK_STATES, CaseStatus, Outcome, WorkItemState
from engine.cases.store import AUDIT_INSERT, CaseStore, OpenCase
from engine.cases.views import (
    BundleDetail,
    BundleSummary,
    CaseView,
    Label,
    Page,
    TaskDetail,
    TimelineEntry,
    WorkItemView,
)
from engine.cases.visibility import may_see_case, may_see_task
from engine.deadlines import pauses
from engine.errors import (
    AlreadyClaimed,
    CaseNotFound,
    CaseNotWaiting,
    Conflict,
    InvalidInput,
    NotAllowed,
    Problem,
    StaleCase,
    TaskNotReady,
    WorkItemNotFound,
)
from engine.people.actors import Actor, Role
from engine.storage.db import Database, rowcount
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Case, CaseEvent, Deployment, Material, WorkItem, table_of
from engine.storage.settings import Settings
from engine.subscribers import subscribe_followers
from engine.time.calendar import WorkCalendar
from engine.time.clock import Clock, SystemClock
from forms.catalog import load_catalog
from forms.merge import MergedForm

T = TypeVar("T")
WORK_ITEMS = table_of(WorkItem)
# Built once: statements of every task action skip construction and hit the compiled cache.
_CLAIM = (
    update(WORK_ITEMS)
    .where(
        WORK_ITEMS.c.id == bindparam("task"),
        WORK_ITEMS.c.state == WorkItemState.READY,
        WORK_ITEMS.c.department.in_(bindparam("departments", expanding=True)),
    )
    .values(state=WorkItemState.CLAIMED, assignee=bindparam("clerk"), claimed_at=bindparam("now"))
    .returning(*WORK_ITEMS.c)
)
_TASK_CASE = select(WORK_ITEMS.c.case_id, WORK_ITEMS.c.department).where(WORK_ITEMS.c.id == bindparam("task"))
MAX_PAGE = 200
STALE_RETRIES = 5


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


CURSOR_MAX_CHARS = 512
ID_MAX = 2**63 - 1  # the largest id a BIGINT (and an SQLite INTEGER) holds


def _bad_cursor() -> InvalidInput:
    return InvalidInput(
        "无效的翻页游标，请从第一页重新打开 (invalid cursor: open the first page again)",
        [Problem("无效的翻页游标", where="cursor", rule="cursor", message_en="invalid cursor")],
    )


def _cursor_value(value: Any, kind: type[int] | type[datetime]) -> int | datetime:
    """One value of a cursor as ``kind`` (``InvalidInput`` when this engine could not have made it)."""
    if kind is int:
        if type(value) is int and 1 <= value <= ID_MAX:
            return value
        raise _bad_cursor()
    if isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:  # the engine's cursors carry UTC; the store refuses naive times
                return moment.astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            raise _bad_cursor() from exc
    raise _bad_cursor()


def _decode_cursor(cursor: str, *shape: type[int] | type[datetime]) -> list[Any]:
    """The values of a cursor this engine made, one per ``shape`` entry and of its type.

    A cursor comes back from the client, so it is input like any other: anything but the
    exact shape (a string where an id was, an id no column holds, too few or too many
    values) is an ``InvalidInput``, never a value handed on to a query.
    """
    if len(cursor) > CURSOR_MAX_CHARS:
        raise _bad_cursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, list) or len(values) != len(shape):
        raise _bad_cursor()
    return [_cursor_value(value, kind) for value, kind in zip(values, shape, strict=True)]


def _problems_from_form(problems: list[Any]) -> list[Problem]:
    return [
        Problem(p.message, where=p.field, rule=p.rule, message_en=p.message_en, extra={"kind": p.kind})
        for p in problems
    ]


class Engine:
    """The onething engine of one process."""

    def __init__(self, settings: Settings, *, db: Database | None = None, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url, settings.sqlite_synchronous)
        self.clock: Clock = clock or SystemClock()
        self.catalog = load_catalog()
        self.calendar = WorkCalendar.load(settings)
        self.deployments = Deployments(self.db, settings, self.catalog)
        self.materials = MaterialService(
            self.db, FileBlobStore(settings.materials_dir), self.catalog, max_bytes=settings.max_upload_bytes
        )
        self.runner = Runner(self.clock, self.calendar.local_date)
        self.store = CaseStore(
            self.deployments, self.runner, self.clock, self.calendar.due_for, settings.workflow_cache_size
        )
        subscribe_followers(self.db.spine, self.calendar)

    # -- lifecycle ---------------------------------------------------------------------
    def upgrade(self) -> None:
        """Bring the database schema up to date."""
        self.db.upgrade()

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    # -- bundles -----------------------------------------------------------------------
    def deploy_shipped(self) -> list[Deployed]:
        """Deploy the bundles shipped in ``processes/`` (only those whose content changed)."""
        return self.deployments.deploy_shipped()

    def deploy_files(self, files: Mapping[str, bytes], by: str) -> Deployed:
        """Validate and deploy a bundle given as files."""
        return self.deployments.deploy_files(files, by)

    def deploy_zip(self, data: bytes, by: str) -> Deployed:
        """Validate and deploy a bundle uploaded as a zip."""
        return self.deployments.deploy_zip(data, by)

    def _summary(self, row: Deployment) -> BundleSummary:
        definition = self.deployments.definition(row)
        manifest = definition.manifest
        form = self.deployments.form(row)
        return BundleSummary(
            key=row.key,
            version=row.version,
            name=Label(manifest.name.zh, manifest.name.en),
            departments=manifest.departments,
            items=tuple(
                {
                    "key": i.key,
                    "name": {"zh": i.name.zh, "en": i.name.en},
                    "department": i.department,
                    "department_name": self.deployments.department_label(i.department),
                    "time_limit_days": i.time_limit_days,
                }
                for i in manifest.items
            ),
            time_limit_days=promised_days(definition),
            reductions=model_reductions(definition, form),
        )

    def list_bundles(self) -> list[BundleSummary]:
        """The newest version of every deployed bundle."""
        with self.db.read() as s:
            return [self._summary(row) for row in self.deployments.latest_all(s)]

    def bundle_detail(self, key: str, version: int | None = None) -> BundleDetail:
        """A bundle with its merged form, materials checklist, reductions and examples."""
        with self.db.read() as s:
            row = self.deployments.latest(s, key, version)
        manifest = self.deployments.definition(row).manifest
        form = self.deployments.form(row)
        examples = tuple(
            {
                "name": {"zh": e.name.zh, "en": e.name.en},
                "data": dict(e.data),
                "materials": list(e.materials),
                "decisions": {k: dict(v) for k, v in e.decisions.items()},
                "route": list(e.route),
            }
            for e in manifest.examples
        )
        first = examples[0] if examples else {"data": {}, "materials": []}
        return BundleDetail(
            summary=self._summary(row),
            form=form.json_schema,
            layout=tuple(form.layout),
            materials=tuple(_checklist_json(form)),
            example={"data": first["data"], "materials": first["materials"]},
            examples=examples,
            manifest=dict(row.manifest),
        )

    def diagram(self, key: str, version: int | None = None) -> str:
        """The BPMN XML of a bundle version."""
        with self.db.read() as s:
            row = self.deployments.latest(s, key, version)
        return str(row.files[self.deployments.definition(row).manifest.process])

    def form_for(self, key: str, version: int | None = None) -> MergedForm:
        """The merged form of a bundle version (for rendering and prefill)."""
        with self.db.read() as s:
            row = self.deployments.latest(s, key, version)
        return self.deployments.form(row)

    # -- cases -------------------------------------------------------------------------
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

    def _check_materials(self, session: Session, owner: str, materials: Mapping[str, str]) -> list[Problem]:
        problems: list[Problem] = []
        for kind, material_id in materials.items():
            row = session.get(Material, material_id)
            if row is None or row.owner != owner:
                problems.append(
                    Problem(
                        f"材料不存在: {material_id}",
                        where=kind,
                        rule="material-unknown",
                        message_en=f"unknown material {material_id}",
                        extra={"kind": "material"},
                    )
                )
            elif row.kind != kind:
                problems.append(
                    Problem(
                        f"材料类型不符: 上传为 {row.kind}",
                        where=kind,
                        rule="material-kind",
                        message_en=f"material was uploaded as {row.kind}",
                        extra={"kind": "material"},
                    )
                )
        return problems

    def start_case(
        self,
        actor: Actor,
        bundle: str,
        data: Mapping[str, Any],
        materials: Mapping[str, str],
        promised: Collection[str] = (),
        *,
        origin_case_id: int | None = None,
        reservation: Reservation | None = None,
    ) -> CaseView:
        """Apply for a bundle: validate everything at once, start the workflow, queue the first tasks.

        ``reservation`` (an ``Idempotency-Key``'s) learns the new case in the same transaction.
        """
        if actor.role is not Role.APPLICANT and actor.username != "system":
            raise NotAllowed("只有申请人可以申请 (only applicants apply)")
        applicant = actor.username
        with self.db.read() as s:
            row = self.deployments.latest(s, bundle)
            problems = self._check_materials(s, applicant, materials)
        form = self.deployments.form(row)
        # Certificates the form takes, of the company (or child ...) applied for, never another one's.
        held = self.materials.certificates_for(applicant, data, form_materials(form))
        attached = {**held, **materials}
        problems += _problems_from_form(form.validate(data, attached.keys(), promised))
        if problems:
            raise InvalidInput(f"申请有 {len(problems)} 处问题 ({len(problems)} problem(s))", problems)
        definition = self.deployments.definition(row)
        workflow = self.runner.start(definition, data)
        with self.db.write() as session:
            oc = self.store.create(session, row, applicant, dict(data), attached, workflow)
            oc.case.origin_case_id = origin_case_id
            # The promise (限时办结): the longest remaining route from where the answers led.
            route_days = promised_days(definition, (t.name for t in self.runner.ready_tasks(workflow)))
            oc.case.due_at = self.calendar.due_for(route_days, oc.now)
            promises = {p.material: p.days for p in definition.manifest.accept_with_promise}
            oc.case.pending_materials = {
                kind: {
                    "due": self.calendar.due_for(float(promises[kind]), oc.now).isoformat(),
                    "promised_at": oc.now.isoformat(),
                }
                for kind in promised
                if kind in promises and kind not in attached
            }
            self.store.event(
                oc,
                applicant,
                "submitted",
                {
                    "bundle": row.key,
                    "version": row.version,
                    "materials": sorted(attached),
                    "reused_certificates": sorted(k for k in attached if k not in materials),
                    "promised": sorted(oc.case.pending_materials),
                    "origin_case_id": origin_case_id,
                },
            )
            self._after_progress(oc, applicant)
            self.store.save(oc)
            case_id = oc.case.id
            record_outcome(session, reservation, outcome_ref("case", case_id))
        self.store.remember(oc)
        for hook in oc.after_commit:
            hook()
        return self.get_case(actor if actor.username != "system" else Actor.system(), case_id)

    def _after_progress(self, oc: OpenCase, actor: str) -> None:
        """Status bookkeeping after the workflow moved: finish, or gather returns into one notice."""
        case = oc.case
        if self.runner.is_completed(oc.workflow):
            status = (
                CaseStatus.REJECTED if self.runner.ended_in_rejection(oc.workflow) else CaseStatus.COMPLETED
            )
            case.status = status
            case.finished_at = oc.now
            analytics.record_case_finished(oc.session, case, self.calendar)
            self.store.sync_work_items(oc)
            self.store.event(oc, "system", status.value, {"outputs": sorted(case.outputs)})
            if status is CaseStatus.COMPLETED:
                self._follow_on(oc)
            return
        self.store.sync_work_items(oc)
        open_count = sum(1 for r in oc.rows if r.state in OPEN_WORK_STATES)
        returned = sorted(
            (r for r in oc.rows if r.round == case.round and r.outcome == Outcome.RETURN), key=lambda r: r.id
        )
        if open_count == 0 and returned and case.status == CaseStatus.RUNNING:
            case.status = CaseStatus.AWAITING_APPLICANT
            case.notice = {
                "round": case.round,
                "issued_at": oc.now.isoformat(),
                "items": [
                    {
                        "item": r.item_key,
                        "department": r.department,
                        "work_item_id": r.id,
                        "comment": r.comment,
                        "problems": list(r.problems),
                    }
                    for r in returned
                ],
                "problems": [
                    {**p, "item": r.item_key, "department": r.department}
                    for r in returned
                    for p in r.problems
                ],
            }
            self.store.event(
                oc,
                "system",
                "notice_issued",
                {
                    "round": case.round,
                    "departments": sorted({r.department for r in returned}),
                    "problems": len(case.notice["problems"]),
                },
            )

    def _follow_on(self, oc: OpenCase) -> None:
        """免申即享: start the follow-on bundles the manifest declares, without an application."""
        manifest = oc.definition.manifest
        if not manifest.follow_on:
            return
        names = {**oc.case.data, **self.runner.data(oc.workflow)}
        for follow in manifest.follow_on:
            try:
                if not evaluate(follow.when, names):
                    continue
                data = {key: evaluate(expr, names) for key, expr in follow.data.items()}
            except Exception as exc:  # an analyst's expression failing must not undo the finished case
                self.store.event(
                    oc, "system", "follow_on_failed", {"bundle": follow.bundle, "error": str(exc)}
                )
                continue
            self.store.event(oc, "system", "follow_on_due", {"bundle": follow.bundle, "data": data})
            oc.after_commit.append(
                functools.partial(self._start_follow_on, oc.case.id, oc.case.applicant, follow.bundle, data)
            )

    def _start_follow_on(self, origin: int, applicant: str, bundle: str, data: dict[str, Any]) -> None:
        """Start one follow-on case after the origin's completion committed (its own transaction)."""
        try:
            started = self.start_case(
                Actor(applicant, Role.APPLICANT), bundle, data, {}, origin_case_id=origin
            )
            detail: dict[str, Any] = {"bundle": bundle, "case_id": started.id}
            kind = "follow_on_started"
        except Exception as exc:  # recorded on the origin case; the applicant can still apply by hand
            detail, kind = {"bundle": bundle, "error": str(exc)}, "follow_on_failed"
        with self.db.write() as session:
            session.add(
                CaseEvent(case_id=origin, at=self.clock.now(), actor="system", kind=kind, detail=detail)
            )

    def supplement(
        self,
        actor: Actor,
        case_id: int,
        data: Mapping[str, Any],
        materials: Mapping[str, str],
        reservation: Reservation | None = None,
    ) -> CaseView:
        """The applicant answers the correction notice; only the returned tasks run again.

        Only what the notice asked may change, and materials owed on a promise may come
        at any time (``engine.cases.supplement_scope``); anything else is refused, each named.
        ``reservation`` (an ``Idempotency-Key``'s) learns the case in the same transaction.
        """
        with self.db.read() as s:
            case = self._visible_case(s, actor, case_id)
            if case.applicant != actor.username:
                raise CaseNotFound(f"没有这个办件 (no case {case_id})")
            problems = self._check_materials(s, actor.username, materials)
            row = self.deployments.row(s, case.deployment_id)
        form = self.deployments.form(row)
        scope = supplement_scope.asked(case.status, case.notice, case.pending_materials)
        problems += scope.refusals(data, materials)
        # The form checks what was asked; a field not asked is refused above, whatever its value.
        merged_data = {**case.data, **{k: v for k, v in data.items() if k in scope.fields}}
        merged_materials = {**case.materials, **{k: v for k, v in materials.items() if k in scope.materials}}
        pending = set(case.pending_materials) - set(materials)
        problems += _problems_from_form(form.validate(merged_data, merged_materials.keys(), pending))
        if problems:
            raise InvalidInput(f"补正有 {len(problems)} 处问题", problems)

        def change(oc: OpenCase) -> None:
            c = oc.case
            # Checked again on the locked row: another supplement or a new notice may have come between.
            late = supplement_scope.asked(c.status, c.notice, c.pending_materials).refusals(data, materials)
            if late:
                raise InvalidInput(f"补正有 {len(late)} 处问题", late)
            supplied_promises = sorted(set(c.pending_materials) & set(materials))
            if c.status != CaseStatus.AWAITING_APPLICANT and not supplied_promises:
                raise CaseNotWaiting("办件当前不需要补正 (the case is not waiting for a supplement)")
            record_outcome(oc.session, reservation, outcome_ref("case", c.id))
            self.runner.update_data(oc.workflow, data)
            c.data = {**c.data, **dict(data)}
            c.materials = {**c.materials, **dict(materials)}
            c.pending_materials = {k: v for k, v in c.pending_materials.items() if k not in materials}
            self.store.event(
                oc,
                actor.username,
                "supplemented",
                {
                    "round": c.round,
                    "fields": sorted(data),
                    "materials": sorted(materials),
                    "promises_kept": supplied_promises,
                },
            )
            if c.status == CaseStatus.AWAITING_APPLICANT:
                # The departments' clocks stood still while the applicant had the case.
                if c.notice and c.notice.get("issued_at"):
                    waited_from = datetime.fromisoformat(c.notice["issued_at"])
                    pauses.shift_due_dates(oc.session, c.id, waited_from, oc.now, self.calendar)
                c.notice = None
                c.round += 1
                c.status = CaseStatus.RUNNING
                self.store.sync_work_items(oc)

        self._mutate(case_id, change)
        return self.get_case(actor, case_id)

    def withdraw(self, actor: Actor, case_id: int, reservation: Reservation | None = None) -> CaseView:
        """The applicant withdraws an unfinished case; open tasks are cancelled.

        ``reservation`` (an ``Idempotency-Key``'s) learns the case in the same transaction.
        """
        with self.db.read() as s:
            case = self._visible_case(s, actor, case_id)
            if case.applicant != actor.username:
                raise CaseNotFound(f"没有这个办件 (no case {case_id})")

        def change(oc: OpenCase) -> None:
            if oc.case.status in FINISHED_CASE_STATES:
                raise Conflict("办件已结束 (the case is finished)")
            record_outcome(oc.session, reservation, outcome_ref("case", oc.case.id))
            oc.workflow.cancel()
            oc.case.status = CaseStatus.WITHDRAWN
            oc.case.finished_at = oc.now
            analytics.record_case_finished(oc.session, oc.case, self.calendar)
            self.store.event(oc, actor.username, "withdrawn")

        self._mutate(case_id, change)
        return self.get_case(actor, case_id)

    # -- reading cases -----------------------------------------------------------------
    def _visible_case(self, session: Session, actor: Actor, case_id: int) -> Case:
        case = session.get(Case, case_id)
        if case is None or not may_see_case(session, actor, case):
            raise CaseNotFound(f"没有这个办件 (no case {case_id})")
        return case

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
                (last_id,) = _decode_cursor(cursor, int)
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
        next_cursor = _encode_cursor([page[-1].id]) if len(cases) > limit else None
        return Page(tuple(views), next_cursor)

    # -- tasks -------------------------------------------------------------------------
    def _visible_item(self, session: Session, actor: Actor, work_item_id: int) -> WorkItem:
        row = session.get(WorkItem, work_item_id)
        if row is None or not may_see_task(actor, row.department):
            raise WorkItemNotFound(f"没有这个任务 (no task {work_item_id})")
        return row

    def _queue_filter(
        self,
        actor: Actor,
        department: str | None,
        state: str | None,
        bundle: str | None,
        assignee: str | None,
        overdue: bool | None,
    ) -> dict[str, Any] | None:
        """The parameters of a queue filter ``actor`` may see (None: a clerk asking for nothing of theirs).

        Only the filters given are present; ``_queue_select`` builds the statement for them.
        """
        if actor.role is Role.CLERK:
            departments = sorted(actor.departments)
            if department is not None:
                departments = [department] if department in actor.departments else []
            if not departments:
                return None
        elif actor.role in (Role.ANALYST, Role.ADMIN):
            departments = [department] if department else []
        else:
            raise NotAllowed("只有窗口人员可以查看任务队列 (only clerks see queues)")
        found: dict[str, Any] = {
            "departments": departments,
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
        state: str | None = None,
        bundle: str | None = None,
        assignee: str | None = None,
        overdue: bool | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[WorkItemView]:
        """A queue: the actor's departments' tasks by due time, keyset-paged (stable under inserts)."""
        limit = max(1, min(limit, MAX_PAGE))
        params = self._queue_filter(actor, department, state, bundle, assignee, overdue)
        if params is None:
            return Page((), None)
        if cursor:
            after_due, after_id = _decode_cursor(cursor, datetime, int)
            params.update(after_due=after_due, after_id=after_id)
        with self.db.read() as s:
            # Plain rows, not ORM objects: a queue page is read often and never changed.
            rows = s.execute(_queue_select(frozenset(params)), {**params, "limit": limit + 1}).all()
            page = rows[:limit]
            views = []
            for w in page:
                views.append(self._item_view(w, self.deployments.row(s, w.deployment_id)))
        next_cursor = None
        if len(rows) > limit and page[-1].due_at is not None:
            next_cursor = _encode_cursor([page[-1].due_at.isoformat(), page[-1].id])
        return Page(tuple(views), next_cursor)

    def count_tasks(
        self,
        actor: Actor,
        *,
        department: str | None = None,
        state: str | None = None,
        bundle: str | None = None,
        assignee: str | None = None,
        overdue: bool | None = None,
        cap: int = 200,
    ) -> tuple[int, bool]:
        """How many tasks a queue filter holds, counted up to ``cap`` (and whether there are more).

        One capped COUNT on the queue's index, where listing the tasks would build a view of each.
        """
        params = self._queue_filter(actor, department, state, bundle, assignee, overdue)
        if params is None:
            return 0, False
        with self.db.read() as s:
            found = int(s.scalar(_queue_count(frozenset(params)), {**params, "limit": cap + 1}) or 0)
        return min(found, cap), found > cap

    def get_task(self, actor: Actor, work_item_id: int) -> TaskDetail:
        """A task with its department's view of the case: only its item's fields and materials."""
        with self.db.read() as s:
            w = self._visible_item(s, actor, work_item_id)
            case = s.get(Case, w.case_id)
            assert case is not None
            row = self.deployments.row(s, w.deployment_id)
            decided = s.scalars(
                select(WorkItem).where(WorkItem.case_id == case.id, WorkItem.outcome == Outcome.APPROVE)
            ).all()
        manifest = self.deployments.definition(row).manifest
        form = self.deployments.form(row)
        data = _with_decisions(case.data, decided)
        materials = {**case.materials, **case.outputs}
        view = form.department_view(w.item_key, data, materials)
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

    def claim(self, actor: Actor, work_item_id: int) -> WorkItemView:
        """Take a task from the queue; exactly one of many concurrent claimers wins.

        The claim is one conditional ``UPDATE ... RETURNING`` and one audit ``INSERT`` on the
        tables (no ORM unit of work): it is half of every task action. Only a claim that did
        not win reads the row, to say why.
        """
        if actor.role is not Role.CLERK:
            with self.db.read() as s:
                self._visible_item(s, actor, work_item_id)  # who may not see it learns nothing
            raise NotAllowed("只有窗口人员可以认领 (only clerks claim)")
        now = self.clock.now()
        with self.db.write() as s:
            won = s.execute(
                _CLAIM,
                {
                    "task": work_item_id,
                    "departments": sorted(actor.departments),
                    "clerk": actor.username,
                    "now": now,
                },
            ).one_or_none()
            if won is None:
                w = self._visible_item(s, actor, work_item_id)
                if w.state != WorkItemState.CLAIMED:
                    raise TaskNotReady(f"任务已{w.state} (task is {w.state})")
                if w.assignee != actor.username:
                    raise AlreadyClaimed(f"任务已被 {w.assignee} 认领 (claimed by someone else)")
                return self._item_view(w, self.deployments.row(s, w.deployment_id))  # already theirs
            s.execute(
                AUDIT_INSERT,
                {
                    "case_id": won.case_id,
                    "at": now,
                    "actor": actor.username,
                    "kind": "claimed",
                    "work_item_id": won.id,
                    "detail": {"item": won.item_key},
                },
            )
            return self._item_view(won, self.deployments.row(s, won.deployment_id))

    def unclaim(
        self, actor: Actor, work_item_id: int, reservation: Reservation | None = None
    ) -> WorkItemView:
        """Put a claimed task back in the queue (only its assignee).

        ``reservation`` (an ``Idempotency-Key``'s) learns the task in the same transaction.
        """
        with self.db.write() as s:
            w = self._visible_item(s, actor, work_item_id)
            now = self.clock.now()
            released = rowcount(
                s.execute(
                    update(WorkItem)
                    .where(
                        WorkItem.id == work_item_id,
                        WorkItem.state == WorkItemState.CLAIMED,
                        WorkItem.assignee == actor.username,
                    )
                    .values(state=WorkItemState.READY, assignee=None, claimed_at=None)
                    .execution_options(synchronize_session=False)
                )
            )
            if not released:
                raise TaskNotReady("只有认领人可以退回队列 (only the assignee can unclaim)")
            record_outcome(s, reservation, outcome_ref("task", w.id))
            s.add(
                CaseEvent(
                    case_id=w.case_id,
                    at=now,
                    actor=actor.username,
                    kind="unclaimed",
                    work_item_id=w.id,
                    detail={"item": w.item_key},
                )
            )
            s.refresh(w)
            return self._item_view(w, self.deployments.row(s, w.deployment_id))

    def complete(
        self,
        actor: Actor,
        work_item_id: int,
        outcome: Outcome | str,
        data: Mapping[str, Any],
        comment: str = "",
        problems: list[dict[str, Any]] | None = None,
        *,
        reservation: Reservation | None = None,
    ) -> WorkItemView:
        """Decide a task: approve (the workflow runs on) or return (gathered into one notice).

        ``reservation`` (an ``Idempotency-Key``'s) learns the decision in the same transaction.
        """
        outcome = Outcome(outcome)
        problems = list(problems or [])
        if outcome is Outcome.RETURN and not problems and not comment.strip():
            raise InvalidInput(
                "退回须说明原因",
                [
                    Problem(
                        "退回时须列出问题或填写说明",
                        where="problems",
                        rule="return-reason",
                        message_en="a return needs problems or a comment",
                    )
                ],
            )

        def locate(session: Session) -> int:
            found = session.execute(_TASK_CASE, {"task": work_item_id}).one_or_none()
            if found is None or not may_see_task(actor, found.department):
                raise WorkItemNotFound(f"没有这个任务 (no task {work_item_id})")
            return int(found.case_id)

        def change(oc: OpenCase) -> WorkItemView:
            # The case row is locked now and its task rows were read after the lock, so a
            # decision made before the lock was taken is seen.
            item = next((r for r in oc.rows if r.id == work_item_id), None)
            if item is None:
                raise WorkItemNotFound(f"没有这个任务 (no task {work_item_id})")
            if item.state != WorkItemState.CLAIMED or item.assignee != actor.username:
                raise TaskNotReady("任务未由您认领或已办结 (not claimed by you, or already done)")
            form = self.deployments.form(oc.deployment)
            if outcome is Outcome.APPROVE:
                # A decision field's condition may name any answer of the case, or an earlier decision.
                approved = [r for r in oc.rows if r.outcome == Outcome.APPROVE]
                case_data = _with_decisions(oc.case.data, approved)
                found = _problems_from_form(form.validate_decision(item.item_key, data, case_data))
                if found:
                    raise InvalidInput(f"办理结果有 {len(found)} 处问题", found)
            item.state = WorkItemState.COMPLETED
            item.outcome = outcome
            item.completed_at = oc.now
            item.comment = comment
            item.problems = problems
            analytics.record_completion(oc.session, item, self.calendar, case=oc.case)
            if outcome is Outcome.APPROVE:
                decision = {k: v for k, v in data.items() if k in form.decision_fields(item.item_key)}
                item.decision = decision
                self.runner.complete(
                    oc.workflow, item.spiff_id, {**decision, outcome_key(item.item_key): "approve"}
                )
                self.store.event(
                    oc,
                    actor.username,
                    "approved",
                    {"item": item.item_key, "comment": comment},
                    work_item_id=item.id,
                )
                self._issue_outputs(oc, item, decision)
            else:
                self.store.event(
                    oc,
                    actor.username,
                    "returned",
                    {"item": item.item_key, "comment": comment, "problems": problems},
                    work_item_id=item.id,
                )
            self._after_progress(oc, actor.username)
            record_outcome(oc.session, reservation, outcome_ref("task", item.id))
            return self._item_view(item, oc.deployment)

        return self._mutate(locate, change)

    def _issue_outputs(self, oc: OpenCase, item: WorkItem, decision: Mapping[str, Any]) -> None:
        """Issue the item's electronic certificates (电子证照) as materials of the case."""
        manifest_item = oc.definition.manifest.item(item.item_key)
        if not manifest_item.outputs:
            return
        content = {**oc.case.data, **self.runner.data(oc.workflow), **decision}
        outputs = dict(oc.case.outputs)
        for kind in manifest_item.outputs:
            info = self.materials.issue_certificate(oc.session, oc.case.id, oc.case.applicant, kind, content)
            outputs[kind] = info.id
            self.store.event(
                oc,
                "system",
                "certificate_issued",
                {"kind": kind, "material_id": info.id, "item": item.item_key},
            )
        oc.case.outputs = outputs
        oc.case.materials = {**oc.case.materials, **outputs}

    # -- timers ------------------------------------------------------------------------
    def fire_due_timers(self, limit: int = 100) -> int:
        """Fire BPMN timers whose time has come, each exactly once (in the case's transaction)."""
        now = self.clock.now()
        with self.db.read() as s:
            due = s.scalars(
                select(Case.id)
                # SpiffWorkflow fires a timer once the clock is past its moment, not at it.
                .where(Case.next_timer_at.is_not(None), Case.next_timer_at < now)
                .order_by(Case.next_timer_at)
                .limit(limit)
            ).all()
        fired = 0
        for case_id in due:

            def locate(session: Session, case_id: int = case_id) -> int:
                # Another worker holding this case is firing it: take the next one, don't queue.
                held = session.scalar(
                    select(Case.id).where(Case.id == case_id).with_for_update(skip_locked=True)
                )
                if held is None:
                    raise _HeldElsewhere
                return case_id

            def change(oc: OpenCase) -> bool:
                at = oc.case.next_timer_at
                if at is None or at >= oc.now:
                    return False  # another worker fired it first
                self.runner.fire_timers(oc.workflow)
                self.store.event(oc, "system", "timer_fired", {"due": at.isoformat()})
                self._after_progress(oc, "system")
                return True

            try:
                if self._mutate(locate, change):
                    fired += 1
            except _HeldElsewhere:
                continue
        return fired


def _with_decisions(case_data: Mapping[str, Any], approved: Iterable[WorkItem]) -> dict[str, Any]:
    """The application's answers with the decisions of approved tasks: what conditions may name."""
    data = dict(case_data)
    for item in approved:
        data.update(item.decision)
    return data


@functools.cache
def _queue_select(filters: frozenset[str]) -> Select[Any]:
    """A queue page's statement for the filters present (``_queue_filter``), built once per combination.

    Queues are read on every clerk's page; a prebuilt statement with parameters skips
    statement construction and hits the compiled cache. Order: by due time, then id.
    """
    c = WORK_ITEMS.c
    query = select(*c)
    if "departments" in filters:
        query = query.where(c.department.in_(bindparam("departments", expanding=True)))
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
def _queue_count(filters: frozenset[str]) -> Select[Any]:
    """The capped COUNT of a queue filter (``count_tasks``), built once per combination."""
    capped = _queue_select(filters).with_only_columns(WORK_ITEMS.c.id).subquery()
    return select(func.count()).select_from(capped)


class _HeldElsewhere(Exception):
    """A due case another worker has locked (it fires the timer; this worker moves on)."""


# Timeline details any involved clerk may read: where the case is, never what others wrote.
CLERK_EVENT_KEYS = frozenset({"item", "department", "departments", "due_at", "round", "bundle", "version"})


def form_materials(form: MergedForm) -> set[str]:
    """Every material kind the form's checklist knows."""
    return {entry.kind for entry in form.checklist()}


def _checklist_json(form: MergedForm) -> list[dict[str, Any]]:
    return [
        {
            "kind": e.kind,
            "name": {"zh": e.zh, "en": e.en},
            "required": e.required,
            "exempt": e.exempt,
            "why": {"zh": e.why_zh, "en": e.why_en} if e.exempt else None,
            "promise_days": e.promise_days,
            "condition": e.condition,
            "accept": list(e.accept),
            "max_bytes": e.max_bytes,
            "items": list(e.items),
        }
        for e in form.checklist()
    ]
