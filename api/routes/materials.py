"""Materials: upload once (stored by content: same bytes, same id), read back by their owner.

Clerks read a case's documents through their task (``GET /api/tasks/{id}/materials/{kind}``),
so they only ever see what their item's department view holds. A clerk at a window uploads
what an applicant brings (代收): the upload is the clerk's until the application names it,
and then becomes the applicant's (``engine.cases.applying``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Annotated, BinaryIO
from urllib.parse import quote

from fastapi import Depends, File, Form, Path, Request, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import ApplicantActor, EngineDep, IdempotencyKey, RoleGate, ServicesDep
from api.errors import responses
from api.headers import UNTRUSTED_POLICY
from api.idempotency import run_once
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.materials import MaterialPublic
from api.schemas.reviews import MaterialReviewPublic
from engine.cases.materials import MaterialInfo
from engine.people.actors import Actor, Role
from engine.storage.idempotency import Reservation

router = PrefixedRouter(prefix="/api/materials", tags=["materials"])
MATERIAL_KIND = r"^[a-z][a-z0-9_]{0,63}$"
MaterialId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="材料 id (material id)")]
CHUNK = 64 * 1024
# Uploading: applicants, and clerks at a window for the applicant they receive (代收).
UploaderActor = Annotated[Actor, Depends(RoleGate(Role.APPLICANT, Role.CLERK))]
CONTENT_DOC: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "材料原件 (the document's bytes, with its media type)",
    }
}


def stream_material(info: MaterialInfo, stream: BinaryIO) -> StreamingResponse:
    """A document's bytes, streamed in chunks, offered as a download under its own name."""

    def chunks() -> Iterator[bytes]:
        with stream:
            while block := stream.read(CHUNK):
                yield block

    name = info.filename or f"{info.kind}"
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "Content-Length": str(info.size),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": UNTRUSTED_POLICY,
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(chunks(), media_type=info.mime or "application/octet-stream", headers=headers)


@router.post(
    "",
    response_model=MaterialPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 409, 413, 422),
)
def upload_material(
    file: Annotated[UploadFile, File(description="材料文件 (the document)")],
    kind: Annotated[str, Form(pattern=MATERIAL_KIND, description="材料类型 (material kind of the catalog)")],
    actor: UploaderActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Store one document of a material kind; the same bytes give the same id."""

    def work(_reservation: Reservation | None) -> MaterialPublic:
        # Streamed from the upload's spooled temporary file, never read whole into memory.
        info = services.engine.materials.upload(actor.username, kind, file.filename or "", file.file)
        note(material=info.id, kind=kind, size=info.size)
        return MaterialPublic.from_view(info)

    asked: dict[str, str] | None = None
    if idempotency_key is not None:
        asked = {"kind": kind, "filename": file.filename or "", "sha256": file_digest(file.file)}
    return run_once(services, actor, idempotency_key, ("POST", request.url.path, asked), 201, work)


def file_digest(stream: BinaryIO) -> str:
    """The sha256 of an upload's bytes, read in chunks; the stream is left at its start."""
    digest = hashlib.sha256()
    stream.seek(0)
    while block := stream.read(CHUNK):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


@router.get("/{material_id}", response_model=MaterialPublic, responses=responses(403, 404, 422))
def get_material(material_id: MaterialId, actor: ApplicantActor, engine: EngineDep) -> MaterialPublic:
    """One of the caller's own materials (uploaded, or a certificate issued to them), with its pre-review.

    ``review`` (智能预审) is what the worker read from the document, compared with the form
    data of the application (or draft) that holds it now; ``pending`` until it is read.
    """
    answer = MaterialPublic.from_view(engine.materials.get(material_id, owner=actor.username))
    answer.review = MaterialReviewPublic.of(engine.reviews.of_material(material_id))
    return answer


@router.get(
    "/{material_id}/content",
    response_class=StreamingResponse,
    responses={**CONTENT_DOC, **responses(403, 404, 422)},
)
def material_content(material_id: MaterialId, actor: ApplicantActor, engine: EngineDep) -> StreamingResponse:
    """The bytes of one of the caller's own materials."""
    info, stream = engine.materials.open(material_id, owner=actor.username)
    return stream_material(info, stream)
