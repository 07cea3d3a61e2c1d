"""Version migration of running cases (版本迁移) over REST: analysts and admins only.

A plan maps the waiting steps, data fields and timers of one version of a bundle to a later
one; ``validate`` lists every problem; a dry run shows per case what would change and
changes nothing; a run moves the picked cases batch by batch, each in its own transaction,
and answers its report; a run interrupted (a crash, a restart) is resumed. Analysts and
admins with a division see and move only their subtree's cases and plans.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from api.deps import AnalystActor, BundleKey, EngineDep, IdempotencyKey, ServicesDep
from api.errors import responses
from api.idempotency import run_once
from api.schemas.migrations import (
    CaseFilterIn,
    CasePreviewPublic,
    DryRunPublic,
    MigrationPlanCreate,
    MigrationPlanPublic,
    MigrationRunCreate,
    MigrationRunPublic,
    PlanCheckPublic,
    VersionCasesPublic,
)
from engine.storage.idempotency import Reservation

router = APIRouter(prefix="/api/bundles", tags=["bundles"])
PlanId = Annotated[int, Path(ge=1, le=2**63 - 1, description="迁移方案 (migration plan id)")]
RunId = Annotated[int, Path(ge=1, le=2**63 - 1, description="迁移批次 (migration run id)")]


@router.get(
    "/{key}/version-cases", response_model=list[VersionCasesPublic], responses=responses(403, 404, 422)
)
def version_cases(key: BundleKey, actor: AnalystActor, engine: EngineDep) -> list[VersionCasesPublic]:
    """Analysts and admins: every version of the bundle with how many of its cases still run."""
    return [VersionCasesPublic(**v) for v in engine.migration_versions(actor, key)]


@router.post(
    "/{key}/migrations",
    status_code=201,
    response_model=MigrationPlanPublic,
    responses=responses(403, 404, 409, 422),
)
def create_plan(
    key: BundleKey,
    body: MigrationPlanCreate,
    actor: AnalystActor,
    engine: EngineDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Analysts and admins: store a migration plan from ``from_version`` to a later ``to_version``.

    ``tasks`` maps old waiting steps to new ones (unlisted: the same id, else the element
    SpiffWorkflow's SpecDiff aligns it with); ``cross_department`` must be set to move a task
    to another department's item. ``fields`` rename, drop or default data fields; ``timers``
    keep or recompute running due times. Unknown versions: 404.
    """

    def work(_reservation: Reservation | None) -> MigrationPlanPublic:
        return MigrationPlanPublic.from_view(
            engine.create_migration_plan(
                actor,
                key,
                body.from_version,
                body.to_version,
                [t.model_dump(by_alias=True) for t in body.tasks],
                [f.model_dump() for f in body.fields],
                body.timers.model_dump(),
            )
        )

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 201, work)


@router.get(
    "/{key}/migrations/{plan_id}", response_model=MigrationPlanPublic, responses=responses(403, 404, 422)
)
def get_plan(key: BundleKey, plan_id: PlanId, actor: AnalystActor, engine: EngineDep) -> MigrationPlanPublic:
    """Analysts and admins: a plan with each waiting step's target and how it was chosen."""
    return MigrationPlanPublic.from_view(engine.migration_plan(actor, key, plan_id))


@router.post(
    "/{key}/migrations/{plan_id}/validate", response_model=PlanCheckPublic, responses=responses(403, 404, 422)
)
def validate_plan(
    key: BundleKey,
    plan_id: PlanId,
    actor: AnalystActor,
    engine: EngineDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Analysts and admins: check a plan. Every waiting step mapped, targets reachable waiting
    steps of the new version, no move to another department's item unless marked; every problem."""

    def work(_reservation: Reservation | None) -> PlanCheckPublic:
        return PlanCheckPublic.from_check(engine.validate_migration(actor, key, plan_id))

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, {}), 200, work)


@router.post(
    "/{key}/migrations/{plan_id}/dry-run",
    response_model=list[CasePreviewPublic],
    responses=responses(403, 404, 422),
)
def dry_run(
    key: BundleKey,
    plan_id: PlanId,
    body: CaseFilterIn,
    actor: AnalystActor,
    engine: EngineDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Analysts and admins: per picked case, what the plan would change (from step -> to step,
    department, claim and due time kept or not); writes nothing. A plan with problems: 422."""

    def work(_reservation: Reservation | None) -> DryRunPublic:
        found = engine.dry_run_migration(actor, key, plan_id, body.to_filter())
        return DryRunPublic([CasePreviewPublic.from_preview(p) for p in found])

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 200, work)


@router.post(
    "/{key}/migrations/{plan_id}/runs",
    status_code=201,
    response_model=MigrationRunPublic,
    responses=responses(403, 404, 409, 422),
)
def start_run(
    key: BundleKey,
    plan_id: PlanId,
    body: MigrationRunCreate,
    actor: AnalystActor,
    engine: EngineDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Analysts and admins: move the picked cases to the new version in batches, each case in its
    own transaction with a CaseMigrated audit line; answers the run's report. A plan with problems: 422."""

    def work(_reservation: Reservation | None) -> MigrationRunPublic:
        report = engine.start_migration_run(actor, key, plan_id, body.to_filter(), body.batch_size)
        return MigrationRunPublic.from_report(report)

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 201, work)


@router.get(
    "/{key}/migration-runs/{run_id}", response_model=MigrationRunPublic, responses=responses(403, 404, 422)
)
def get_run(key: BundleKey, run_id: RunId, actor: AnalystActor, engine: EngineDep) -> MigrationRunPublic:
    """Analysts and admins: a run's report (counts by state, each failure with its reason)."""
    return MigrationRunPublic.from_report(engine.migration_report(actor, key, run_id))


@router.post(
    "/{key}/migration-runs/{run_id}/resume",
    response_model=MigrationRunPublic,
    responses=responses(403, 404, 409, 422),
)
def resume_run(
    key: BundleKey,
    run_id: RunId,
    actor: AnalystActor,
    engine: EngineDep,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Analysts and admins: move the run's cases still pending (after a crash); answers the report."""

    def work(_reservation: Reservation | None) -> MigrationRunPublic:
        return MigrationRunPublic.from_report(engine.resume_migration_run(actor, key, run_id))

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, {}), 200, work)
