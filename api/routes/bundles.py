"""The bundle catalogue: list, detail (merged form, checklist, example), diagram, deploy."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse

from api.deps import AnalystActor, BundleKey, CurrentActor, EngineDep, IdempotencyKey, ServicesDep
from api.errors import responses
from api.headers import untrusted_download
from api.idempotency import Reply, run_once
from api.logs import note
from api.schemas.bundles import BundleDetailPublic, BundlePublic, DeployedPublic
from api.schemas.common import DIVISION_CODE
from engine.errors import TooLarge
from engine.storage.idempotency import Reservation

router = APIRouter(prefix="/api/bundles", tags=["bundles"])
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="版本 (version; newest when absent)")]
Division = Annotated[
    str | None,
    Query(
        pattern=DIVISION_CODE,
        description="申请人所在行政区划：返回适用于该地的地区变体 "
        "(the applicant's division: the variant that applies there)",
    ),
]


@router.get("", response_model=list[BundlePublic], responses=responses())
def list_bundles(_actor: CurrentActor, engine: EngineDep) -> list[BundlePublic]:
    """The newest version of every deployed bundle."""
    return [BundlePublic.from_view(b) for b in engine.list_bundles()]


@router.get("/{key}", response_model=BundleDetailPublic, responses=responses(404, 422))
def bundle_detail(
    key: BundleKey,
    _actor: CurrentActor,
    engine: EngineDep,
    version: Version = None,
    division: Division = None,
) -> BundleDetailPublic:
    """A bundle with its merged form (JSON Schema), materials checklist, reductions, an example and office
    contacts; with ``division``, the regional variant that applies there (the nearest up the tree)."""
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
    key: BundleKey, _actor: CurrentActor, engine: EngineDep, version: Version = None
) -> Response:
    """The bundle's BPMN diagram as XML (a download with a sandboxing policy: the text is the analyst's)."""
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
) -> JSONResponse:
    """Validate and deploy a bundle or a regional variant: a new version when its content changed.

    An analyst with a division (分级授权) deploys only variants for divisions inside it (403 otherwise).
    """
    engine = services.engine
    limit = engine.settings.max_bundle_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"压缩包超过 {limit} 字节 (zip over {limit} bytes)")

    def work(_reservation: Reservation | None) -> Reply:
        deployed = engine.deploy_zip(data, by=actor.username, scope=actor.division)
        note(
            bundle=deployed.key,
            version=deployed.version,
            created=deployed.created,
            division=deployed.division,
        )
        public = DeployedPublic.from_deployed(deployed)
        return Reply(public, status.HTTP_201_CREATED if deployed.created else status.HTTP_200_OK)

    asked = {"sha256": hashlib.sha256(data).hexdigest()}
    return run_once(services, actor, idempotency_key, ("POST", request.url.path, asked), 201, work)
