"""The bundle catalogue: list, detail (merged form, checklist, example), diagram, deploy, four-eyes review.

Review (``engine.bpmn.review``): ``POST /api/bundles?draft=true`` stores a draft; the versions
of a bundle list their status; submit, publish, return (with a note) and withdraw move one
version. Publishing and returning are refused (403) to the version's author and submitter.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Body, File, Path, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse

from api.deps import AnalystActor, BundleKey, CurrentActor, EngineDep, IdempotencyKey, ServicesDep
from api.errors import responses
from api.headers import untrusted_download
from api.idempotency import Reply, run_once
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.bundle_review import BundleVersionPublic, ReviewedPublic, ReviewNoteCreate
from api.schemas.bundle_search import BundleFoundPublic
from api.schemas.bundles import BundleDetailPublic, BundlePublic, DeployedPublic
from api.schemas.common import DIVISION_CODE
from engine.bpmn.review import ReviewAction, VersionStatus
from engine.errors import BundleNotFound, TooLarge
from engine.people.actors import Actor, Role
from engine.storage.idempotency import Reservation

router = PrefixedRouter(prefix="/api/bundles", tags=["bundles"])
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="版本 (version; newest when absent)")]
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="版本 (version)")]
Draft = Annotated[
    bool,
    Query(
        description="存为草稿，待另一位分析员或管理员审核发布 "
        "(store a draft: it goes live when another analyst or an admin publishes it)"
    ),
]
Note = Annotated[ReviewNoteCreate | None, Body()]
Division = Annotated[
    str | None,
    Query(
        pattern=DIVISION_CODE,
        description="申请人所在行政区划：返回适用于该地的地区变体 "
        "(the applicant's division: the variant that applies there)",
    ),
]


def _published_unless_analyst(engine: EngineDep, actor: Actor, key: str, version: int | None) -> None:
    """A draft, a version in review or a withdrawn one is the analysts' own: 404 to everyone else."""
    if version is None or actor.role in (Role.ANALYST, Role.ADMIN):
        return
    if engine.version_status(key, version) != VersionStatus.PUBLISHED:
        raise BundleNotFound(f"没有这个事项包版本 (no bundle {key!r} version {version})")


Question = Annotated[
    str | None,
    Query(
        max_length=200,
        description="智能导办：用平常话说要办的事，如“我想开一家小饭馆” "
        "(a question in plain words: the bundles that fit it, best first, each with score and why)",
    ),
]


@router.get("", response_model=list[BundleFoundPublic] | list[BundlePublic], responses=responses(422))
def list_bundles(_actor: CurrentActor, engine: EngineDep, q: Question = None) -> list[BundlePublic]:
    """The newest published version of every deployed bundle (drafts wait for review); anyone may ask.

    With ``q`` (智能导办), the bundles that fit the question come first, best first, each with its
    ``score``, ``why`` (the words that matched and where: keyword, name, item, situation,
    description, department) and the ``situations`` (情形) that fit; the bundles that do not fit
    follow with score 0. When nothing in the question matched (empty or nonsense), every bundle
    has score 0 and no reasons.
    """
    bundles = engine.list_bundles()
    if q is None or not q.strip():
        return [BundlePublic.from_view(b) for b in bundles]
    answer = engine.search_bundles(q)
    found = {f.key: f for f in answer.found}
    rank = {f.key: n for n, f in enumerate(answer.found)}
    ordered = sorted(bundles, key=lambda b: (rank.get(b.key, len(rank)), b.key))
    return [BundleFoundPublic.of(b, found.get(b.key)) for b in ordered]


@router.get("/{key}", response_model=BundleDetailPublic, responses=responses(404, 422))
def bundle_detail(
    key: BundleKey,
    actor: CurrentActor,
    engine: EngineDep,
    version: Version = None,
    division: Division = None,
) -> BundleDetailPublic:
    """A bundle with its merged form (JSON Schema), materials checklist, reductions, an example and office
    contacts; with ``division``, the regional variant that applies there (the nearest up the tree)."""
    _published_unless_analyst(engine, actor, key, version)
    return BundleDetailPublic.from_detail(engine.bundle_detail(key, version, division))


@router.get(
    "/{key}/diagram",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {"schema": {"type": "string"}}}, "description": "BPMN 2.0 XML"},
        **responses(404, 422),
    },
)
def bundle_diagram(
    key: BundleKey, actor: CurrentActor, engine: EngineDep, version: Version = None
) -> Response:
    """The bundle's BPMN diagram as XML (a download with a sandboxing policy: the text is the analyst's)."""
    _published_unless_analyst(engine, actor, key, version)
    name = f"{key}-v{version}.bpmn" if version is not None else f"{key}.bpmn"
    return untrusted_download(engine.diagram(key, version), name, "application/xml")


@router.post(
    "",
    response_model=DeployedPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": DeployedPublic, "description": "内容未变，沿用原版本 (unchanged: same version)"},
        **responses(403, 409, 413, 422),
    },
)
def deploy_bundle(
    file: Annotated[UploadFile, File(description="事项包文件夹的 zip (a zip of the bundle folder)")],
    actor: AnalystActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    draft: Draft = False,
) -> JSONResponse:
    """Validate and deploy a bundle or a regional variant: a new version when its content changed.

    An analyst with a division (分级授权) deploys only variants for divisions inside it (403 otherwise).
    With ``draft=true`` the version is stored as a draft for four-eyes review, not live.
    """
    engine = services.engine
    limit = engine.settings.max_bundle_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"压缩包超过 {limit} 字节 (zip over {limit} bytes)")

    def work(_reservation: Reservation | None) -> Reply:
        deployed = engine.deploy_zip(data, by=actor.username, scope=actor.division, draft=draft)
        note(
            bundle=deployed.key,
            version=deployed.version,
            created=deployed.created,
            division=deployed.division,
            status=deployed.status,
        )
        public = DeployedPublic.from_deployed(deployed)
        return Reply(public, status.HTTP_201_CREATED if deployed.created else status.HTTP_200_OK)

    asked = {"sha256": hashlib.sha256(data).hexdigest(), "draft": draft}
    return run_once(services, actor, idempotency_key, ("POST", request.url.path, asked), 201, work)


@router.get("/{key}/versions", response_model=list[BundleVersionPublic], responses=responses(403, 404, 422))
def bundle_versions(key: BundleKey, _actor: AnalystActor, engine: EngineDep) -> list[BundleVersionPublic]:
    """Every stored version of a bundle, newest first, with its review status and who did what."""
    found = engine.versions(key)
    if not found:
        raise BundleNotFound(f"没有这个事项包 (no bundle {key!r})")
    return [BundleVersionPublic.from_view(v) for v in found]


REVIEW_STEPS: dict[ReviewAction, str] = {
    ReviewAction.SUBMIT: "Submit a draft for review (draft -> in_review); the submitter may not publish it.",
    ReviewAction.PUBLISH: "Publish a version in review: new cases start on it. "
    "Refused (403) to its author and submitter.",
    ReviewAction.RETURN: "Return a version in review to draft with a note (``note`` required); "
    "not by its author or submitter.",
    ReviewAction.WITHDRAW: "Withdraw a draft or a version in review (its author, or an admin): "
    "it never goes live.",
}


def _add_review_step(action: ReviewAction, summary: str) -> None:
    """Register ``POST /{key}/versions/{version}/{action}``: one review step, at most once per
    Idempotency-Key (a retried publish replays its answer). The four steps differ only in the
    action the engine applies, so one handler serves them all."""

    def review_step(
        key: BundleKey,
        version: VersionPath,
        actor: AnalystActor,
        services: ServicesDep,
        request: Request,
        body: Note = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        def work(_reservation: Reservation | None) -> ReviewedPublic:
            reviewed = services.engine.review_version(
                actor, key, version, action, body.note if body else None
            )
            note(bundle=key, version=version, review=action.value, status=reviewed.status.value)
            return ReviewedPublic.from_reviewed(reviewed)

        asked = {"note": body.note if body else None}
        return run_once(services, actor, idempotency_key, ("POST", request.url.path, asked), 200, work)

    router.add_api_route(
        f"/{{key}}/versions/{{version}}/{action.value}",
        review_step,
        methods=["POST"],
        name=f"{action.value}_version",
        description=summary,
        response_model=ReviewedPublic,
        responses=responses(403, 404, 409, 422),
    )


for _action, _summary in REVIEW_STEPS.items():
    _add_review_step(_action, _summary)
