"""Version migration of running cases (版本迁移): plans, validation, dry runs, resumable runs.

An admin or analyst writes a plan (``engine.cases.migration_plans``) from version N to N+M
of a bundle; ``validate`` lists every problem; a dry run shows per case what would change
and writes nothing; a run lists the cases its filter picks, then moves them in batches,
each case in its own transaction on its locked row (``CaseCore._mutate``): the workflow is
replayed onto the new diagram (``engine.bpmn.migration.replay``), the open task rows follow
their tasks (claims and due times kept unless the plan says otherwise), the case points at
the new deployment, the ``CaseMigrated`` audit line is written and the case's row in the
run turns ``migrated``, all in one commit. A crash leaves each case on one version; resuming
takes the pending rows. The per-process workflow cache is keyed by ``state_version``, which
the migration's save bumps, and ``_mutate`` keeps the new workflow only after the commit.

Analysts and admins with a division (分级授权) plan for, and move, only cases of their subtree.

May import: ``engine.cases``, ``engine.bpmn``, ``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.bpmn.definitions import BundleDefinition
from engine.bpmn.migration import ReplayFailed, WaitingPoint, default_alignment, replay, waiting_points
from engine.cases.core import CaseCore
from engine.cases.events import CaseMigrated, TaskCancelled
from engine.cases.migration_plans import (
    CaseFilter,
    CasePreview,
    PlanCheck,
    PlanView,
    RunCaseState,
    RunFailure,
    RunReport,
    StepChange,
    TaskMove,
    TimerRule,
    apply_fields,
    check_plan,
    resolve_moves,
    timer_rule,
)
from engine.cases.states import OPEN_WORK_STATES, Outcome, WorkItemState
from engine.cases.store import OpenCase
from engine.errors import BundleNotFound, InvalidInput, NotAllowed, NotFound, Problem
from engine.people.actors import Actor, Role
from engine.storage.migration_tables import MigrationPlan, MigrationRun, MigrationRunCase
from engine.storage.models import Case, Deployment, WorkItem
from engine.storage.spine import emit

MAX_BATCH = 1000


class _NotPending(Exception):
    """The case's row in the run is no longer pending (another resume took it)."""


@dataclass
class _Prepared:
    """A plan with both versions loaded and its map resolved (built once per request)."""

    plan: MigrationPlan
    old: Deployment
    new: Deployment
    old_def: BundleDefinition
    new_def: BundleDefinition
    old_points: dict[str, WaitingPoint]
    new_points: dict[str, WaitingPoint]
    moves: tuple[TaskMove, ...]
    task_map: dict[str, str]

    def data_map(self, data: dict[str, Any]) -> dict[str, Any]:
        return apply_fields(self.plan.fields, data)

    def keep_timer(self, element: str) -> bool:
        return timer_rule(self.plan.timers, element) == TimerRule.KEEP


class Migrations(CaseCore):
    """Plans, dry runs and runs that move running cases to a newer version of their bundle."""

    # -- plans -------------------------------------------------------------------------
    def create_migration_plan(
        self,
        actor: Actor,
        key: str,
        from_version: int,
        to_version: int,
        tasks: list[dict[str, Any]],
        fields: list[dict[str, Any]],
        timers: dict[str, Any],
    ) -> PlanView:
        """Store a plan from ``from_version`` to a later ``to_version`` of ``key``."""
        _may_migrate(actor)
        if to_version <= from_version:
            raise InvalidInput(
                "目标版本须晚于原版本 (the target version must be later)",
                [_problem("目标版本须晚于原版本", "to_version", "the target version must be later")],
            )
        with self.db.write() as s:
            for version in (from_version, to_version):
                self.deployments.latest(s, key, version)  # BundleNotFound for an unknown version
            plan = MigrationPlan(
                bundle_key=key,
                from_version=from_version,
                to_version=to_version,
                tasks=list(tasks),
                fields=list(fields),
                timers=dict(timers),
                created_by=actor.username,
                division=actor.division,
                created_at=self.clock.now(),
            )
            s.add(plan)
            s.flush()
            return self._plan_view_of(self._prepare_plan(s, plan))

    def migration_plan(self, actor: Actor, key: str, plan_id: int) -> PlanView:
        """A plan with its map resolved against both versions."""
        with self.db.read() as s:
            return self._plan_view_of(self._prepare_plan(s, self._migration_plan_row(s, actor, key, plan_id)))

    def migration_defaults(self, actor: Actor, key: str, from_version: int, to_version: int) -> PlanView:
        """What a plan with no task entries would do (same ids, SpecDiff's alignment): a form's start."""
        _may_migrate(actor)
        with self.db.read() as s:
            draft = MigrationPlan(
                id=0,
                bundle_key=key,
                from_version=from_version,
                to_version=to_version,
                tasks=[],
                fields=[],
                timers={},
                created_by=actor.username,
                created_at=self.clock.now(),
            )
            return self._plan_view_of(self._prepare_plan(s, draft))

    def validate_migration(self, actor: Actor, key: str, plan_id: int) -> PlanCheck:
        """Every problem of a plan (none: it may run)."""
        with self.db.read() as s:
            prepared = self._prepare_plan(s, self._migration_plan_row(s, actor, key, plan_id))
        problems = self._plan_problems(prepared)
        return PlanCheck(not problems, tuple(problems), prepared.moves)

    def migration_versions(self, actor: Actor, key: str) -> list[dict[str, Any]]:
        """Every version of a bundle with its status and how many unfinished cases it has."""
        _may_migrate(actor)
        with self.db.read() as s:
            versions = s.execute(
                select(Deployment.version, Deployment.status, Deployment.division, Deployment.created_at)
                .where(Deployment.key == key)
                .order_by(Deployment.version)
            ).all()
            if not versions:
                raise BundleNotFound(f"没有这个事项包 (no bundle {key!r})")
            query = (
                select(Case.version, Case.status, func.count())
                .where(Case.bundle_key == key)
                .group_by(Case.version, Case.status)
            )
            subtree = self.regions.subtree(actor.division)
            if subtree is not None:
                query = query.where(Case.division.in_(sorted(subtree)))
            counts: dict[int, dict[str, int]] = {}
            for version, status, count in s.execute(query).all():
                counts.setdefault(int(version), {})[str(status)] = int(count)
        return [
            {
                "version": int(v.version),
                "status": str(v.status),
                "division": v.division,
                "created_at": v.created_at,
                "cases": counts.get(int(v.version), {}),
                "running": sum(
                    n for st, n in counts.get(int(v.version), {}).items() if st in CaseFilter().statuses
                ),
            }
            for v in versions
        ]

    # -- dry run -----------------------------------------------------------------------
    def dry_run_migration(self, actor: Actor, key: str, plan_id: int, which: CaseFilter) -> list[CasePreview]:
        """What the plan would do to each picked case; reads only, writes nothing."""
        with self.db.read() as s:
            prepared = self._prepare_plan(s, self._migration_plan_row(s, actor, key, plan_id))
            self._refuse_invalid_plan(prepared)
            ids = self._migration_cases(s, actor, prepared, which)
            previews: list[CasePreview] = []
            for case_id in ids:
                case = s.get(Case, case_id)
                if case is None:
                    continue
                workflow = self.runner.attach(
                    self.store.codec.loads(
                        case.state, prepared.old_def.spec, prepared.old_def.subprocess_specs
                    )
                )
                rows = list(
                    s.scalars(select(WorkItem).where(WorkItem.case_id == case_id).order_by(WorkItem.id))
                )
                base = CasePreview(case.id, case.code, case.status, case.version, prepared.new.version)
                try:
                    replayed = replay(
                        self.runner,
                        workflow,
                        prepared.new_def,
                        prepared.task_map,
                        prepared.data_map,
                        prepared.keep_timer,
                    )
                except ReplayFailed as exc:
                    previews.append(_with(base, problem=str(exc)))
                    continue
                steps = self._step_changes(prepared, rows, replayed.moved, case.round)
                previews.append(_with(base, steps=tuple(steps), new_steps=tuple(replayed.new_steps)))
        return previews

    # -- runs --------------------------------------------------------------------------
    def queue_migration_run(
        self, actor: Actor, key: str, plan_id: int, which: CaseFilter, batch_size: int = 100
    ) -> RunReport:
        """List the picked cases in a new run (all pending) for the worker to move; the report.

        The request that asks for a run does only this: the worker (``run_migration_jobs``)
        moves the cases batch by batch, so a run of thousands of cases outlives no request.
        """
        with self.db.write() as s:
            prepared = self._prepare_plan(s, self._migration_plan_row(s, actor, key, plan_id))
            self._refuse_invalid_plan(prepared)
            ids = self._migration_cases(s, actor, prepared, which)
            run = MigrationRun(
                plan_id=prepared.plan.id,
                filter=_filter_json(which),
                batch_size=max(1, min(batch_size, MAX_BATCH)),
                status="running",
                created_by=actor.username,
                started_at=self.clock.now(),
            )
            s.add(run)
            s.flush()
            s.add_all(MigrationRunCase(run_id=run.id, case_id=i, state=RunCaseState.PENDING) for i in ids)
            return _report(s, run, prepared.plan)

    def start_migration_run(
        self, actor: Actor, key: str, plan_id: int, which: CaseFilter, batch_size: int = 100
    ) -> RunReport:
        """Queue a run and move its cases here and now (tests, the command line); the final report."""
        run_id = self.queue_migration_run(actor, key, plan_id, which, batch_size).id
        return self._execute_run(actor, key, run_id)

    def resume_migration_run(self, actor: Actor, key: str, run_id: int) -> RunReport:
        """Move the run's cases still pending (after a crash or a stop), here and now; the report."""
        with self.db.read() as s:
            self._migration_run_row(s, actor, key, run_id)
        return self._execute_run(actor, key, run_id)

    def requeue_migration_run(self, actor: Actor, key: str, run_id: int) -> RunReport:
        """Hand a run's pending cases back to the worker (a finished run with none pending stays so)."""
        with self.db.write() as s:
            run, plan = self._migration_run_row(s, actor, key, run_id)
            pending = s.scalar(
                select(func.count())
                .select_from(MigrationRunCase)
                .where(MigrationRunCase.run_id == run_id, MigrationRunCase.state == RunCaseState.PENDING)
            )
            if pending:
                run.status, run.finished_at = "running", None
            s.flush()
            return _report(s, run, plan)

    def migration_report(self, actor: Actor, key: str, run_id: int) -> RunReport:
        """A run's counts and failures as they stand."""
        with self.db.read() as s:
            run, plan = self._migration_run_row(s, actor, key, run_id)
            return _report(s, run, plan)

    def run_migration_jobs(self, limit: int = 100) -> int:
        """The worker's step: move up to ``limit`` pending cases of running runs, oldest run first.

        Each case moves in its own transaction under its row lock, and its row in the run is
        checked again there, so two workers (or a worker and a resume) never move one case
        twice; a run with no pending case left is marked finished. After a crash or a restart
        the next tick simply takes the pending rows again. How many cases it took.
        """
        taken = 0
        with self.db.read() as s:
            runs = list(
                s.scalars(
                    select(MigrationRun).where(MigrationRun.status == "running").order_by(MigrationRun.id)
                )
            )
        for run in runs:
            if taken >= limit:
                break
            with self.db.read() as s:
                plan = s.get(MigrationPlan, run.plan_id)
                if plan is None:
                    continue
                prepared = self._prepare_plan(s, plan)
            taken += self._execute_batch(run.created_by, prepared, run.id, limit - taken)
        return taken

    def _execute_run(self, actor: Actor, key: str, run_id: int) -> RunReport:
        with self.db.read() as s:
            run, plan = self._migration_run_row(s, actor, key, run_id)
            prepared = self._prepare_plan(s, plan)
            batch = run.batch_size
        while self._execute_batch(actor.username, prepared, run_id, batch):
            pass
        return self.migration_report(actor, key, run_id)

    def _execute_batch(self, by: str, prepared: _Prepared, run_id: int, batch: int) -> int:
        """Move up to ``batch`` pending cases of a run; finish the run when none is left. How many taken."""
        with self.db.read() as s:
            ids = list(
                s.scalars(
                    select(MigrationRunCase.case_id)
                    .where(MigrationRunCase.run_id == run_id, MigrationRunCase.state == RunCaseState.PENDING)
                    .order_by(MigrationRunCase.case_id)
                    .limit(batch)
                )
            )
        for case_id in ids:
            self._migrate_one(by, prepared, run_id, case_id)
        if len(ids) < batch:
            with self.db.write() as s:
                left = s.scalar(
                    select(func.count())
                    .select_from(MigrationRunCase)
                    .where(MigrationRunCase.run_id == run_id, MigrationRunCase.state == RunCaseState.PENDING)
                )
                if not left:
                    s.execute(
                        update(MigrationRun)
                        .where(MigrationRun.id == run_id, MigrationRun.status == "running")
                        .values(status="finished", finished_at=self.clock.now())
                    )
        return len(ids)

    def _migrate_one(self, by: str, prepared: _Prepared, run_id: int, case_id: int) -> None:
        """Move one case in its own transaction; a refusal is recorded in another, with its reason."""
        try:
            self._mutate(case_id, lambda oc: self._migrate_locked(by, prepared, run_id, oc))
        except _NotPending:
            return
        except (ReplayFailed, NotFound, InvalidInput) as exc:
            self._mark_run_case(run_id, case_id, RunCaseState.FAILED, str(exc))
        except _Skip as skip:
            self._mark_run_case(run_id, case_id, RunCaseState.SKIPPED, skip.reason)

    def _mark_run_case(self, run_id: int, case_id: int, state: RunCaseState, reason: str) -> None:
        with self.db.write() as s:
            s.execute(
                update(MigrationRunCase)
                .where(
                    MigrationRunCase.run_id == run_id,
                    MigrationRunCase.case_id == case_id,
                    MigrationRunCase.state == RunCaseState.PENDING,
                )
                .values(state=state, reason=reason[:2000], at=self.clock.now())
            )

    def _migrate_locked(self, by: str, prepared: _Prepared, run_id: int, oc: OpenCase) -> None:
        """The migration of one locked case (inside ``_mutate``'s transaction)."""
        s = oc.session
        entry = s.scalars(
            select(MigrationRunCase).where(
                MigrationRunCase.run_id == run_id, MigrationRunCase.case_id == oc.case.id
            )
        ).one()
        if entry.state != RunCaseState.PENDING:
            raise _NotPending
        case = oc.case
        if case.version != prepared.old.version or case.bundle_key != prepared.plan.bundle_key:
            raise _Skip(f"办件已不在版本 {prepared.old.version} (the case is on version {case.version} now)")
        statuses = tuple(_run_filter(s, run_id).statuses)
        if case.status not in statuses:
            raise _Skip(f"办件状态为 {case.status} (the case is {case.status} now)")
        replayed = replay(
            self.runner,
            oc.workflow,
            prepared.new_def,
            prepared.task_map,
            prepared.data_map,
            prepared.keep_timer,
        )
        steps = self._step_changes(prepared, oc.rows, replayed.moved, case.round)
        self._move_work_items(prepared, oc, replayed.moved, steps)
        oc.workflow = replayed.workflow
        oc.deployment = prepared.new
        oc.definition = prepared.new_def
        case.deployment_id = prepared.new.id
        case.version = prepared.new.version
        case.data = prepared.data_map(dict(case.data))
        for row in oc.rows:
            # Decisions of done (and open) tasks read the same after a field is renamed or dropped.
            if row.decision:
                changed = prepared.data_map(dict(row.decision))
                if changed != row.decision:
                    row.decision = changed
        moved = [{"from": c.source, "to": c.target, "department": c.department_to} for c in steps]
        emit(
            s,
            CaseMigrated(
                case_id=case.id,
                at=oc.now,
                actor=by,
                bundle=case.bundle_key,
                from_version=prepared.old.version,
                to_version=prepared.new.version,
                moved=moved,
                new_steps=list(replayed.new_steps),
                plan_id=prepared.plan.id,
                run_id=run_id,
            ),
        )
        entry.state = RunCaseState.MIGRATED
        entry.moved = moved
        entry.at = oc.now

    def _step_changes(
        self, prepared: _Prepared, rows: list[WorkItem], moved: dict[str, str], round_: int
    ) -> list[StepChange]:
        """What happens to each open task row (and each returned one waiting for the applicant)."""
        changes: list[StepChange] = []
        taken: set[str] = set()
        release = bool(prepared.plan.timers.get("release_claims", False))
        for row in rows:
            held = row.outcome == Outcome.RETURN and row.round == round_
            if row.state not in OPEN_WORK_STATES and not held:
                continue
            new_id = moved.get(row.spiff_id)
            if new_id is None:
                continue
            target = prepared.task_map.get(row.task_name, row.task_name)
            item = prepared.new_def.manifest.item_for_task(target)
            department = item.department if item is not None else row.department
            if new_id in taken:
                claim = "merged"
            elif row.assignee is None:
                claim = "none"
            elif department != row.department or release:
                claim = "released"
            else:
                claim = "kept"
            taken.add(new_id)
            due = row.due_at
            if timer_rule(prepared.plan.timers, row.task_name) == TimerRule.RECOMPUTE and item is not None:
                due = self.calendar.due_for(item.time_limit_days, row.created_at)
            changes.append(
                StepChange(
                    row.task_name, target, row.department, department, row.assignee, claim, row.due_at, due
                )
            )
        return changes

    def _move_work_items(
        self, prepared: _Prepared, oc: OpenCase, moved: dict[str, str], steps: list[StepChange]
    ) -> None:
        """Point each open row at its task in the new workflow; a merged twin is cancelled."""
        by_source = iter(steps)
        for row in oc.rows:
            held = row.outcome == Outcome.RETURN and row.round == oc.case.round
            if (row.state not in OPEN_WORK_STATES and not held) or row.spiff_id not in moved:
                continue
            change = next(by_source)
            if change.claim == "merged":
                row.state = WorkItemState.CANCELLED
                row.completed_at = oc.now
                emit(
                    oc.session,
                    TaskCancelled(case_id=oc.case.id, at=oc.now, work_item_id=row.id, item=row.item_key),
                )
                continue
            item = prepared.new_def.manifest.item_for_task(change.target)
            external = prepared.new_def.is_external(change.target)
            if change.department_to != row.department:
                row.division = self.regions.route(change.department_to, oc.case.division)
            row.spiff_id = moved[row.spiff_id]
            row.task_name = change.target
            row.deployment_id = prepared.new.id
            row.item_key = item.key if item is not None else change.target
            row.department = change.department_to
            row.due_at = change.due_to
            if change.claim == "released" and row.state == WorkItemState.CLAIMED:
                row.state = WorkItemState.READY
                row.assignee = None
                row.claimed_at = None
            if (row.kind == "external") != external:
                row.kind = "external" if external else "human"
                row.topic = prepared.new_def.external_topic(change.target) if external else None
                row.worker_id = None
                row.lock_expires_at = None
                row.retries = None

    # -- helpers -----------------------------------------------------------------------
    def _migration_plan_row(self, s: Session, actor: Actor, key: str, plan_id: int) -> MigrationPlan:
        _may_migrate(actor)
        plan = s.get(MigrationPlan, plan_id)
        if plan is None or plan.bundle_key != key or not self._plan_in_scope(actor, plan.division):
            raise NotFound(f"没有这个迁移方案 (no migration plan {plan_id})")
        return plan

    def _migration_run_row(
        self, s: Session, actor: Actor, key: str, run_id: int
    ) -> tuple[MigrationRun, MigrationPlan]:
        _may_migrate(actor)
        run = s.get(MigrationRun, run_id)
        if run is None:
            raise NotFound(f"没有这个迁移批次 (no migration run {run_id})")
        try:
            return run, self._migration_plan_row(s, actor, key, run.plan_id)
        except NotFound as exc:
            raise NotFound(f"没有这个迁移批次 (no migration run {run_id})") from exc

    def _plan_in_scope(self, actor: Actor, division: str | None) -> bool:
        if actor.division is None:
            return True
        return division is not None and self.regions.in_scope(actor.division, division)

    def _prepare_plan(self, s: Session, plan: MigrationPlan) -> _Prepared:
        old = self.deployments.latest(s, plan.bundle_key, plan.from_version)
        new = self.deployments.latest(s, plan.bundle_key, plan.to_version)
        old_def, new_def = self.deployments.definition(old), self.deployments.definition(new)
        old_points, new_points = waiting_points(old_def), waiting_points(new_def)
        aligned = default_alignment(self.store.codec, old_def, new_def)
        moves = resolve_moves(plan.tasks, old_def, new_def, old_points, new_points, aligned)
        task_map = {m.source: m.target for m in moves if m.target is not None}
        return _Prepared(plan, old, new, old_def, new_def, old_points, new_points, moves, task_map)

    def _plan_problems(self, prepared: _Prepared) -> list[Problem]:
        plan = prepared.plan
        return check_plan(
            plan.tasks,
            plan.fields,
            plan.timers,
            prepared.moves,
            prepared.old_points,
            prepared.new_def,
            prepared.new_points,
        )

    def _refuse_invalid_plan(self, prepared: _Prepared) -> None:
        problems = self._plan_problems(prepared)
        if problems:
            raise InvalidInput(f"迁移方案有 {len(problems)} 个问题 (the plan has problems)", problems)

    def _migration_cases(self, s: Session, actor: Actor, prepared: _Prepared, which: CaseFilter) -> list[int]:
        """The ids of the cases a filter picks: the bundle and old version, the statuses, the subtree."""
        query = select(Case.id).where(
            Case.bundle_key == prepared.plan.bundle_key,
            Case.version == prepared.old.version,
            Case.status.in_(list(which.statuses)),
        )
        for scope in (actor.division, which.division):
            subtree = self.regions.subtree(scope)
            if subtree is not None:
                query = query.where(Case.division.in_(sorted(subtree)))
        if which.case_ids is not None:
            query = query.where(Case.id.in_(list(which.case_ids)))
        query = query.order_by(Case.id)
        if which.limit is not None:
            query = query.limit(which.limit)
        return [int(i) for i in s.scalars(query)]

    @staticmethod
    def _plan_view_of(p: _Prepared) -> PlanView:
        plan = p.plan
        return PlanView(
            plan.id,
            plan.bundle_key,
            plan.from_version,
            plan.to_version,
            list(plan.tasks),
            list(plan.fields),
            dict(plan.timers),
            plan.created_by,
            plan.created_at,
            p.moves,
            tuple(p.old_points.values()),
            tuple(p.new_points.values()),
        )


class _Skip(Exception):
    """The case no longer fits the run (moved already, or finished): skipped with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _may_migrate(actor: Actor) -> None:
    if actor.role not in (Role.ANALYST, Role.ADMIN):
        raise NotAllowed("只有分析员和管理员可以迁移办件 (only analysts and admins migrate cases)")


def _problem(message: str, where: str, message_en: str) -> Problem:
    return Problem(message, where=where, rule="plan", message_en=message_en)


def _with(base: CasePreview, **changes: Any) -> CasePreview:
    return replace(base, **changes)


def _filter_json(which: CaseFilter) -> dict[str, Any]:
    return {
        "statuses": list(which.statuses),
        "division": which.division,
        "case_ids": None if which.case_ids is None else list(which.case_ids),
        "limit": which.limit,
    }


def _run_filter(s: Session, run_id: int) -> CaseFilter:
    run = s.get(MigrationRun, run_id)
    statuses = tuple((run.filter if run is not None else {}).get("statuses") or CaseFilter().statuses)
    return CaseFilter(statuses=statuses)


def _report(s: Session, run: MigrationRun, plan: MigrationPlan) -> RunReport:
    counts = {state.value: 0 for state in RunCaseState}
    for state, count in s.execute(
        select(MigrationRunCase.state, func.count())
        .where(MigrationRunCase.run_id == run.id)
        .group_by(MigrationRunCase.state)
    ).all():
        counts[str(state)] = int(count)
    failures = tuple(
        RunFailure(int(r.case_id), str(r.state), str(r.reason))
        for r in s.execute(
            select(MigrationRunCase.case_id, MigrationRunCase.state, MigrationRunCase.reason)
            .where(
                MigrationRunCase.run_id == run.id,
                MigrationRunCase.state.in_([RunCaseState.FAILED, RunCaseState.SKIPPED]),
            )
            .order_by(MigrationRunCase.case_id)
        ).all()
    )
    return RunReport(
        run.id,
        plan.id,
        plan.bundle_key,
        plan.from_version,
        plan.to_version,
        run.status,
        run.batch_size,
        dict(run.filter),
        run.started_at,
        run.finished_at,
        counts,
        failures,
    )
