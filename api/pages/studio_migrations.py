"""The studio's migration page: a bundle's versions with their running cases, and a migration form.

``GET /studio/{key}/migrations`` lists every version with how many cases still run on it;
choosing a from and a to version shows each waiting step of the old version with a target
prefilled (the same id, else SpiffWorkflow's alignment), a cross-department box, the timer
rule and whether claims are released. ``POST`` stores the form as a plan and validates it,
dry-runs it on the first cases, or executes it (``action``), and shows the answer on the
same page: the problems, each case's moves, or the run's report. Analysts and admins only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.pages.base import Ctx, PageContext, PageRoute
from api.pages.params import BundleKey
from engine.cases.migration_plans import CaseFilter
from engine.errors import InvalidInput, NotFound
from engine.people.actors import Actor, Role

router = APIRouter(route_class=PageRoute)
DRY_RUN_CASES = 20
ACTIONS = ("validate", "dry-run", "run")


def _version(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None


@router.get("/studio/{key}/migrations")
def migrations_page(ctx: Ctx, key: BundleKey) -> Response:
    """The versions of a bundle with their running cases; with ``from``/``to``, the migration form."""
    actor = ctx.require(Role.ANALYST, Role.ADMIN)
    query = ctx.request.query_params
    result: dict[str, Any] = {}
    run = _version(query.get("run"))
    if run is not None:
        try:
            result["report"] = ctx.engine.migration_report(actor, key, run)
        except NotFound:
            result["report"] = None
    return _page(ctx, actor, key, _version(query.get("from")), _version(query.get("to")), **result)


@router.post("/studio/{key}/migrations")
def migrations_post(ctx: Ctx, key: BundleKey) -> Response:
    """Store the form as a plan, then validate, dry-run or execute it; the answer on the same page."""
    actor = ctx.require(Role.ANALYST, Role.ADMIN)
    form = ctx.posted
    source, target = _version(form.get("from")), _version(form.get("to"))
    action = str(form.get("action") or "")
    if source is None or target is None or action not in ACTIONS:
        return _page(
            ctx,
            actor,
            key,
            source,
            target,
            status=422,
            error=("请选择原版本、目标版本和操作", "Choose both versions and an action"),
        )
    engine = ctx.engine
    tasks: list[dict[str, Any]] = []
    crossing = set(form.getlist("cross"))
    for name, value in form.multi_items():
        if name.startswith("map:") and isinstance(value, str) and value:
            tasks.append({"from": name[4:], "to": value, "cross_department": name[4:] in crossing})
    timers = {
        "default": "recompute" if form.get("timers") == "recompute" else "keep",
        "release_claims": form.get("release") == "on",
    }
    try:
        plan = engine.create_migration_plan(actor, key, source, target, tasks, [], timers)
        check = engine.validate_migration(actor, key, plan.id)
        result: dict[str, Any] = {"plan": plan, "check": check}
        if check.valid and action == "dry-run":
            result["previews"] = engine.dry_run_migration(
                actor, key, plan.id, CaseFilter(limit=DRY_RUN_CASES)
            )
        elif check.valid and action == "run":
            # Queued for the worker; the report shows its progress (its refresh link re-reads it).
            result["report"] = engine.queue_migration_run(actor, key, plan.id, CaseFilter())
    except (InvalidInput, NotFound) as exc:
        return _page(ctx, actor, key, source, target, status=422, error=exc.in_languages())
    status = 200 if check.valid else 422
    return _page(ctx, actor, key, source, target, status=status, chosen=tasks, timers=timers, **result)


def _page(
    ctx: PageContext,
    actor: Actor,
    key: str,
    source: int | None,
    target: int | None,
    *,
    status: int = 200,
    error: tuple[str, str] | None = None,
    chosen: list[dict[str, Any]] | None = None,
    timers: dict[str, Any] | None = None,
    **result: Any,
) -> Response:
    engine = ctx.engine
    detail = engine.bundle_detail(key)
    versions = engine.migration_versions(actor, key)
    defaults = None
    if source is not None and target is not None and target > source and error is None:
        try:
            defaults = engine.migration_defaults(actor, key, source, target)
        except NotFound:
            defaults = None
    picked = {t["from"]: t for t in chosen or []}
    return ctx.render(
        "studio_migrations.html",
        status=status,
        bundle=detail.summary,
        versions=versions,
        source=source,
        target=target,
        defaults=defaults,
        picked=picked,
        timers=timers or {"default": "keep", "release_claims": False},
        error=error,
        departments=engine.deployments.departments,
        **result,
    )
