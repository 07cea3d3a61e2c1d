"""How well bundles run, for analysts: bottlenecks per task, departments, before/after reductions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import BUNDLE_KEY, AnalystActor, EngineDep
from api.errors import responses
from api.schemas.analytics import BottleneckPublic, DepartmentStatsPublic, ReductionRowPublic
from engine.analytics import queries

router = APIRouter(prefix="/api/analytics", tags=["analytics"])
BundleFilter = Annotated[
    str | None, Query(pattern=BUNDLE_KEY, description="事项包 (bundle key; all when absent)")
]


@router.get("/bottlenecks", response_model=list[BottleneckPublic], responses=responses(403, 422))
def bottlenecks(
    _analyst: AnalystActor,
    engine: EngineDep,
    bundle: BundleFilter = None,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="版本 (version)")] = None,
) -> list[BottleneckPublic]:
    """Per task: count, median and p90 wait and work time, overdue count, returns and their reasons."""
    return [BottleneckPublic.from_row(r) for r in queries.bottlenecks(engine.db, bundle, version)]


@router.get("/departments", response_model=list[DepartmentStatsPublic], responses=responses(403, 422))
def departments(
    _analyst: AnalystActor, engine: EngineDep, bundle: BundleFilter = None
) -> list[DepartmentStatsPublic]:
    """The same measures per department, with complaints."""
    return [DepartmentStatsPublic.from_row(r) for r in queries.by_department(engine.db, bundle)]


@router.get("/reductions", response_model=list[ReductionRowPublic], responses=responses(403))
def reductions(_analyst: AnalystActor, engine: EngineDep) -> list[ReductionRowPublic]:
    """Per bundle: steps, days, materials and trips, before and after (by the model and in real cases)."""
    return [ReductionRowPublic.from_row(r) for r in queries.reductions(engine.db, engine.deployments)]
