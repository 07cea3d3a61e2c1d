"""How well bundles run, for analysts: bottlenecks per task, departments, reductions, offices ranked.

Every route reads a division's subtree (``division=``; all when absent) and groups its rows
per division (``by=division``) or by the ancestor at a level (``level=``: ``county`` gathers
a county's townships, ``city`` a city's counties and a 直辖市's districts). An analyst or
admin whose account has a division (分级授权) reads only that subtree: a ``division`` outside
it answers an empty list (200), as the scoped task queues and case lists do, never
another region's figures.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from api.deps import BUNDLE_KEY, AnalystActor, EngineDep
from api.errors import responses
from api.routing import PrefixedRouter
from api.schemas.analytics import (
    BottleneckPublic,
    DepartmentStatsPublic,
    OfficeRankPublic,
    ReductionRowPublic,
)
from api.schemas.common import DIVISION_CODE
from engine.analytics import queries
from engine.regions.tree import Level

router = PrefixedRouter(prefix="/api/analytics", tags=["analytics"])
BundleFilter = Annotated[
    str | None, Query(pattern=BUNDLE_KEY, description="事项包 (bundle key; all when absent)")
]
DivisionFilter = Annotated[
    str | None,
    Query(
        pattern=DIVISION_CODE,
        description="行政区划：该区划及其下级，限于本人可见范围；缺省为全部 "
        "(division code: it and below, within the caller's own division; all when absent)",
    ),
]
LevelFilter = Annotated[
    Level | None,
    Query(
        description="按该层级的上级区划汇总，如 city 把区县归入所属城市 "
        "(group rows by their ancestor at this level, e.g. city gathers counties into their city)"
    ),
]
ByFilter = Annotated[
    Literal["division"] | None,
    Query(description="division：每个行政区划一行 (one row per division); 缺省合计 (absent: one total)"),
]


@router.get("/bottlenecks", response_model=list[BottleneckPublic], responses=responses(403, 422))
def bottlenecks(
    analyst: AnalystActor,
    engine: EngineDep,
    bundle: BundleFilter = None,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="版本 (version)")] = None,
    division: DivisionFilter = None,
    level: LevelFilter = None,
    by: ByFilter = None,
) -> list[BottleneckPublic]:
    """Per task (and division): count, median and p90 wait and work, overdue count, returns and reasons."""
    rows = queries.bottlenecks(
        engine.db,
        bundle,
        version,
        tree=engine.regions.tree(),
        division=division,
        level=level,
        group_by_division=by == "division",
        reach=analyst.division,
    )
    return [BottleneckPublic.from_row(r) for r in rows]


@router.get("/departments", response_model=list[DepartmentStatsPublic], responses=responses(403, 422))
def departments(
    analyst: AnalystActor,
    engine: EngineDep,
    bundle: BundleFilter = None,
    division: DivisionFilter = None,
    level: LevelFilter = None,
    by: ByFilter = None,
) -> list[DepartmentStatsPublic]:
    """The same measures per department (and division), with complaints and suspended cases (挂起)."""
    rows = queries.by_department(
        engine.db,
        bundle,
        tree=engine.regions.tree(),
        division=division,
        level=level,
        group_by_division=by == "division",
        reach=analyst.division,
        calendar=engine.calendar,
        now=engine.clock.now(),
    )
    return [DepartmentStatsPublic.from_row(r) for r in rows]


@router.get("/reductions", response_model=list[ReductionRowPublic], responses=responses(403, 422))
def reductions(
    analyst: AnalystActor,
    engine: EngineDep,
    division: DivisionFilter = None,
    level: LevelFilter = None,
    by: ByFilter = None,
) -> list[ReductionRowPublic]:
    """Per bundle (and division): steps, days, materials and trips, before and after (model and real cases).

    The real side counts the completed cases decided in the divisions read; grouped, a
    bundle has a row per division with completed cases (one row with ``real`` null when none).
    Each row also counts the bundle's suspended cases (now, ever) and their suspended working
    time (total, mean), which the real days leave out.
    """
    rows = queries.reductions(
        engine.db,
        engine.deployments,
        tree=engine.regions.tree(),
        division=division,
        level=level,
        group_by_division=by == "division",
        reach=analyst.division,
        calendar=engine.calendar,
        now=engine.clock.now(),
    )
    return [ReductionRowPublic.from_row(r) for r in rows]


@router.get("/offices", response_model=list[OfficeRankPublic], responses=responses(403, 422))
def offices(
    analyst: AnalystActor,
    engine: EngineDep,
    division: DivisionFilter = None,
    level: LevelFilter = None,
    bundle: BundleFilter = None,
) -> list[OfficeRankPublic]:
    """Offices (department at a division) ranked by on-time rate, then mean rating (办件按时办结率排名).

    ``level`` ranks offices gathered to their division's ancestor at that level (every
    market-regulation office of a city as one).
    """
    rows = queries.office_ranking(
        engine.db,
        engine.regions.tree(),
        division,
        level,
        bundle,
        names=engine.regions.office_name,
        reach=analyst.division,
    )
    return [OfficeRankPublic.from_row(r) for r in rows]
