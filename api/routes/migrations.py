"""Version migration of running cases (版本迁移) over REST: analysts and admins only.

A plan maps the waiting steps, data fields and timers of one version of a bundle to a later
one; ``validate`` lists every problem; a dry run shows per case what would change and
changes nothing; a run is queued (202, with a Location to poll) and the worker moves the
picked cases batch by batch, each in its own transaction; the run's report shows its
progress (counts per state). A run interrupted (a crash, a restart) goes on by itself in
the worker; resume hands it back explicitly. Analysts and admins with a division see and
move only their subtree's cases and plans.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import AnalystActor, BundleKey, EngineDep, IdempotencyKey, ServicesDep
from api.errors import responses
from api.idempotency import run_once
from api.routing import PrefixedRouter
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
from engine.people.actors import Actor
from engine.storage.idempotency import Reservation

router = PrefixedRouter(prefix="/api/bundles", tags=["bundles"])
PlanId = Annotated[int, Path(ge=1, le=2**63 - 1, description="迁移方案 (migration plan id)")]
RunId = Annotated[int, Path(ge=1, le=2**63 - 1, description="迁移批次 (migration run id)")]


def _once(
    services: ServicesDep,
    actor: Actor,
    key: str | None,
    request: Request,
    body: BaseModel | None,
    status_code: int,
    answer: Callable[[], BaseModel],
) -> JSONResponse:
    """The routes' one idempotent POST: the work at most once per key, its answer replayed."""

    def work(_reservation: Reservation | None) -> BaseModel:
        return answer()

    return run_once(services, actor, key, ("POST", request.url.path, body or {}), status_code, work)


def _queued(key: str, response: JSONResponse) -> JSONResponse:
    """A queued run's answer (202) with the report to poll in ``Location`` (a replay's too)."""
    run_id = json.loads(bytes(response.body))["id"]
    response.headers["Location"] = f"/api/bundles/{key}/migration-runs/{run_id}"
    return response


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

    return _once(
        services,
        actor,
        idempotency_key,
        request,
        body,
        201,
        lambda: MigrationPlanPublic.from_view(
            engine.create_migration_plan(
                actor,
                key,
                body.from_version,
                body.to_version,
                [t.model_dump(by_alias=True) for t in body.tasks],
                [f.model_dump() for f in body.fields],
                body.timers.model_dump(),
            )
        ),
    )


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

    return _once(
        services,
        actor,
        idempotency_key,
        request,
        None,
        200,
        lambda: PlanCheckPublic.from_check(engine.validate_migration(actor, key, plan_id)),
    )


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

    def answer() -> DryRunPublic:
        found = engine.dry_run_migration(actor, key, plan_id, body.to_filter())
        return DryRunPublic([CasePreviewPublic.from_preview(p) for p in found])

    return _once(services, actor, idempotency_key, request, body, 200, answer)


@router.post(
    "/{key}/migrations/{plan_id}/runs",
    status_code=202,
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
    """Analysts and admins: queue a run that moves the picked cases to the new version; answers 202
    with the run's report (every case pending) and its address in ``Location``. The worker moves
    the cases in batches, each in its own transaction with a CaseMigrated audit line; poll the
    report for progress. A plan with problems: 422."""
    return _queued(
        key,
        _once(
            services,
            actor,
            idempotency_key,
            request,
            body,
            202,
            lambda: MigrationRunPublic.from_report(
                engine.queue_migration_run(actor, key, plan_id, body.to_filter(), body.batch_size)
            ),
        ),
    )


@router.get(
    "/{key}/migration-runs/{run_id}", response_model=MigrationRunPublic, responses=responses(403, 404, 422)
)
def get_run(key: BundleKey, run_id: RunId, actor: AnalystActor, engine: EngineDep) -> MigrationRunPublic:
    """Analysts and admins: a run's report (counts by state, each failure with its reason)."""
    return MigrationRunPublic.from_report(engine.migration_report(actor, key, run_id))


@router.post(
    "/{key}/migration-runs/{run_id}/resume",
    status_code=202,
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
    """Analysts and admins: hand the run's cases still pending back to the worker (a run interrupted
    by a crash goes on by itself too); answers 202 with the report and its address in ``Location``."""
    return _queued(
        key,
        _once(
            services,
            actor,
            idempotency_key,
            request,
            None,
            202,
            lambda: MigrationRunPublic.from_report(engine.requeue_migration_run(actor, key, run_id)),
        ),
    )
