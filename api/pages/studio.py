"""Analyst pages: deployed bundles and versions, a bundle's model, uploads and the modeler.

Regions: each bundle lists its regional variants by division, versions say which division a
variant serves, the offices are ranked by on-time rate and rating, and an analyst with a
division reads the figures of its subtree only (分级授权).

Four eyes (``engine.bpmn.review``): an upload or a modeler save is a *draft*; the studio lists
each version's status and the review queue, and its buttons submit, publish, return (with a
note) and withdraw. Publishing is another analyst's or an admin's, never the author's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from api.headers import untrusted_download
from api.pages import plots, studio_migrations
from api.pages.base import Ctx, PageContext, PageRoute, redirect
from api.pages.offices import division_label
from api.pages.params import BundleKey, PageVersion, VersionQuery
from engine.analytics import queries
from engine.bpmn.deployments import unzip_bundle
from engine.bpmn.manifest import parse_manifest
from engine.bpmn.review import STATUS_WORDS, ReviewAction, VersionStatus
from engine.cases.views import BundleVersion
from engine.errors import (
    BundleNotFound,
    Conflict,
    DefinitionError,
    InvalidInput,
    NotAllowed,
    Problem,
    TooLarge,
)
from engine.people.actors import Actor, Role
from forms.render import form_view

router = APIRouter(route_class=PageRoute)
router.include_router(studio_migrations.router)  # 版本迁移: the versions' running cases and the plan form

ANALYSTS = (Role.ANALYST, Role.ADMIN)
WAITING = (VersionStatus.DRAFT.value, VersionStatus.IN_REVIEW.value)
ReviewPath = Annotated[ReviewAction, Path(description="审核操作 (review action)")]


def _versions(ctx: PageContext, key: str | None = None) -> dict[str, list[BundleVersion]]:
    """Every deployed version of every bundle (or of one), newest first (analysts see them all)."""
    out: dict[str, list[BundleVersion]] = {}
    for v in ctx.engine.versions(key):
        out.setdefault(v.key, []).append(v)
    return out


RANKED_OFFICES = 20


def _regions_view(ctx: PageContext, actor: Actor) -> dict[str, Any]:
    """What every studio page shows of regions and review: scope, division names, status words."""
    regions = ctx.engine.regions
    return {
        "scope": division_label(regions, actor.division) if actor.division is not None else None,
        "division_name": lambda code: division_label(regions, code) if code else None,
        "status_word": lambda status: ctx.words.tr(*STATUS_WORDS[VersionStatus(status)]),
        "names": ctx.svc.catalog.names(),
        "item_names": _item_names(ctx),
        "where_label": lambda where: _where_label(ctx, where),
    }


def _item_names(ctx: PageContext) -> dict[tuple[str, str], Any]:
    """Each published bundle's items by (bundle, item key): the bottleneck tables name steps, not ids."""
    return {(b.key, str(i["key"])): i["name"] for b in ctx.svc.catalog.bundles() for i in b.items}


def _where_label(ctx: PageContext, where: str) -> str:
    """A return reason's place ("field:x", "material:y") by its name in the page's language."""
    kind, _, key = where.partition(":")
    catalog = ctx.engine.deployments.catalog
    if kind == "field" and key in catalog.elements:
        return catalog.elements[key].label(ctx.words.lang)
    if kind == "material" and key in catalog.materials:
        material = catalog.materials[key]
        return ctx.words.tr(material.zh, material.en)
    return key or where


def _waiting(versions: dict[str, list[BundleVersion]]) -> list[BundleVersion]:
    """The versions that wait for someone: drafts and the review queue, in review first, newest first."""
    found = [v for vs in versions.values() for v in vs if v.status in WAITING]
    return sorted(found, key=lambda v: (v.status != VersionStatus.IN_REVIEW, -v.created_at.timestamp()))


@router.get("/studio")
def studio(ctx: Ctx) -> Response:
    """Bundles with their versions, variants and reductions, the slowest steps, the offices ranked."""
    actor = ctx.require(*ANALYSTS)
    engine = ctx.engine
    tree = engine.regions.tree()
    trend = queries.trends(engine.db, period="week", tree=tree, reach=actor.division)
    ranking = queries.office_ranking(engine.db, tree, names=engine.regions.office_name, reach=actor.division)
    versions = _versions(ctx)
    return ctx.render(
        "studio.html",
        bundles=ctx.svc.catalog.bundles(),
        versions=versions,
        waiting=_waiting(versions),
        bottlenecks=queries.bottlenecks(engine.db, tree=tree, reach=actor.division)[:20],
        ranking=ranking[:RANKED_OFFICES],
        departments=engine.deployments.departments,
        trend=trend,
        overdue_plot=plots.overdue_trend(trend, ctx.words),
        rating_plot=plots.rating_trend(trend, ctx.words),
        **_regions_view(ctx, actor),
    )


@router.get("/studio/{key}")
def studio_bundle(ctx: Ctx, key: BundleKey, version: VersionQuery = None) -> Response:
    """One bundle version: diagram with the wait heat map, form preview, checklist, reductions, plots.

    Also its review status with the actions the analyst may take, its regional variants by
    division and the offices that worked it, ranked.
    """
    actor = ctx.require(*ANALYSTS)
    return _bundle_page(ctx, actor, key, version)


def _bundle_page(
    ctx: PageContext,
    actor: Actor,
    key: str,
    version: int | None,
    review_error: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The bundle page; ``review_error`` (zh, en) says why a review action was refused."""
    engine = ctx.engine
    tree = engine.regions.tree()
    detail = engine.bundle_detail(key, version)
    form = engine.form_for(key, detail.summary.version)
    shown = detail.summary.version
    trend = queries.trends(engine.db, key, period="week", tree=tree, reach=actor.division)
    durations = queries.duration_distribution(engine.db, key, shown, tree=tree, reach=actor.division)
    waits = queries.median_waits(engine.db, key, shown, tree=tree, reach=actor.division)
    ranking = queries.office_ranking(
        engine.db, tree, bundle=key, names=engine.regions.office_name, reach=actor.division
    )
    versions = _versions(ctx, key).get(key, [])
    shown_version = next((v for v in versions if v.version == shown), None)
    return ctx.render(
        "studio_bundle.html",
        status=status,
        review_error=review_error,
        shown=shown_version,
        authored=shown_version is not None
        and actor.username in (shown_version.created_by, shown_version.submitted_by),
        is_admin=actor.role is Role.ADMIN,
        detail=detail,
        bundle=detail.summary,
        groups=form_view(form, {}),
        checklist=form.checklist(),
        versions=versions,
        variants=_variants(ctx, key),
        bottlenecks=queries.bottlenecks(engine.db, key, shown, tree=tree, reach=actor.division),
        ranking=ranking[:RANKED_OFFICES],
        departments=engine.deployments.departments,
        heat=plots.heat_map(waits, ctx.words),
        durations=durations,
        durations_plot=plots.duration_histogram(durations, ctx.words),
        trend=trend,
        overdue_plot=plots.overdue_trend(trend, ctx.words),
        rating_plot=plots.rating_trend(trend, ctx.words),
        **_regions_view(ctx, actor),
    )


def _variants(ctx: PageContext, key: str) -> list[dict[str, Any]]:
    """The regional variants in force on the newest base version, by division code."""
    regions = ctx.engine.regions
    found = ctx.engine.bundle_detail(key).summary.variants
    return [
        {"division": v["division"], "version": v["version"], "name": division_label(regions, v["division"])}
        for v in sorted(found, key=lambda v: str(v["division"]))
    ]


def _diagram_of(files: dict[str, bytes]) -> str | None:
    """The BPMN text of an uploaded bundle (its manifest's process, else its only .bpmn)."""
    name: str | None = None
    if "bundle.yaml" in files:
        try:
            name = parse_manifest(files["bundle.yaml"]).process
        except DefinitionError:
            name = None
    if name is None or name not in files:
        diagrams = [n for n in files if n.endswith(".bpmn")]
        name = diagrams[0] if len(diagrams) == 1 else None
    if name is None:
        return None
    return files[name].decode("utf-8", "replace")


@router.post("/studio/upload")
def studio_upload(ctx: Ctx) -> Response:
    """Deploy an uploaded bundle zip; when refused, list every problem and point at it on the diagram."""
    actor = ctx.require(*ANALYSTS)
    upload = ctx.posted.get("bundle")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems = [Problem("请选择一个 zip 文件", where="bundle", message_en="Choose a zip file")]
        return ctx.render(
            "studio_refused.html", status=422, problems=problems, xml=None, state={}, filename=""
        )
    data = upload.file.read(ctx.engine.settings.max_bundle_bytes + 1)
    try:
        deployed = ctx.engine.deploy_zip(data, actor.username, scope=actor.division, draft=True)
    except DefinitionError as exc:
        try:
            xml = _diagram_of(unzip_bundle(data, ctx.engine.settings.max_bundle_bytes))
        except (DefinitionError, TooLarge):
            xml = None
        marks = {
            p.element: {"state": "problem", "text": ctx.words.tr("⚠ 问题", "⚠ problem")}
            for p in exc.problems
            if p.element
        }
        return ctx.render(
            "studio_refused.html",
            status=422,
            problems=exc.problems,
            xml=xml,
            state={"elements": marks},
            filename=upload.filename,
        )
    msg = "drafted" if deployed.created else "unchanged"
    return redirect(f"/studio/{deployed.key}?version={deployed.version}&msg={msg}")


@router.get("/studio/{key}/edit")
def modeler(ctx: Ctx, key: BundleKey, version: VersionQuery = None) -> Response:
    """The bpmn-js modeler on a bundle's diagram; saving validates and stores a new draft version.

    Without ``version`` it opens the published version and names the newer drafts to open instead.
    """
    actor = ctx.require(*ANALYSTS)
    detail = ctx.engine.bundle_detail(key, version)
    shown = detail.summary.version
    versions = _versions(ctx, key).get(key, [])
    return ctx.render(
        "modeler.html",
        bundle=detail.summary,
        newer=[v for v in versions if v.version > shown and v.status in WAITING and v.division is None],
        **_regions_view(ctx, actor),
    )


@router.post("/studio/{key}/diagram")
def save_diagram(ctx: Ctx, key: BundleKey, version: VersionQuery = None) -> Response:
    """Save an edited diagram as the bundle's next version, after the full validation."""
    actor = ctx.require(*ANALYSTS)
    xml = ctx.posted.get("xml")
    if not isinstance(xml, str) or not xml.strip():
        problem = Problem("流程图为空", where="xml", message_en="the diagram is empty")
        return JSONResponse({"problems": [problem.as_dict()]}, status_code=422)
    try:
        deployed = ctx.engine.deploy_diagram(
            key, version, xml, actor.username, scope=actor.division, draft=True
        )
    except (DefinitionError, TooLarge) as exc:
        problems = getattr(exc, "problems", None) or [Problem(exc.message)]
        return JSONResponse({"problems": [p.as_dict() for p in problems]}, status_code=422)
    return JSONResponse(
        {
            "key": deployed.key,
            "version": deployed.version,
            "created": deployed.created,
            "status": deployed.status,
        },
        status_code=201 if deployed.created else 200,
    )


@router.post("/studio/{key}/versions/{version}/{action}")
def review_version(ctx: Ctx, key: BundleKey, version: PageVersion, action: ReviewPath) -> Response:
    """Submit, publish, return (with the posted ``note``) or withdraw a version, then show it again.

    A refusal (the author publishing, a return without a note, a version that moved on) is
    shown on the bundle page, in the page's language.
    """
    actor = ctx.require(*ANALYSTS)
    note = ctx.posted.get("note")
    try:
        ctx.engine.review_version(actor, key, version, action, note if isinstance(note, str) else None)
    except (NotAllowed, Conflict, InvalidInput) as exc:
        status = 403 if isinstance(exc, NotAllowed) else 409 if isinstance(exc, Conflict) else 422
        return _bundle_page(ctx, actor, key, version, review_error=exc.in_languages(), status=status)
    return redirect(f"/studio/{key}?version={version}&msg=version-{action.value}")


@router.get("/diagrams/{key}/{version}.bpmn")
def diagram_xml(ctx: Ctx, key: BundleKey, version: PageVersion) -> Response:
    """The BPMN XML of one deployed version (immutable, so cacheable; a download, never a page).

    A version not yet published (or withdrawn) is the analysts' own: not found for anyone else.
    """
    actor = ctx.require()
    if actor.role not in ANALYSTS and ctx.engine.version_status(key, version) != VersionStatus.PUBLISHED:
        raise BundleNotFound(f"no bundle {key!r} version {version}")
    xml = ctx.engine.diagram(key, version)
    return untrusted_download(
        xml, f"{key}-v{version}.bpmn", "application/xml", {"Cache-Control": "private, max-age=3600"}
    )
