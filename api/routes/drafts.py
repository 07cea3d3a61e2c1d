"""Drafts of applications (草稿): applicants save, read and discard their own, one per bundle.

Only applicants (403 for any other role); every call is the caller's own draft, so another
applicant's draft cannot even be named. A draft holds only the bundle form's fields and the
caller's own uploads (422 lists every other key), at most 64 KB (413). Submitting the
application (``POST /api/cases`` or the page) discards the draft.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from api.deps import ApplicantActor, BundleKey, EngineDep, IdempotencyKey, ServicesDep
from api.errors import responses
from api.idempotency import run_once
from api.routing import PrefixedRouter
from api.schemas.drafts import DraftPublic, DraftSave

router = PrefixedRouter(prefix="/api/drafts", tags=["drafts"])


@router.get("", response_model=list[DraftPublic], responses=responses(403))
def list_drafts(actor: ApplicantActor, engine: EngineDep) -> list[DraftPublic]:
    """The caller's drafts, most recently saved first."""
    return [DraftPublic.from_view(d) for d in engine.drafts.list(actor)]


@router.get("/{key}", response_model=DraftPublic, responses=responses(403, 404, 422))
def get_draft(key: BundleKey, actor: ApplicantActor, engine: EngineDep) -> DraftPublic:
    """The caller's draft of a bundle (404 when there is none)."""
    return DraftPublic.from_view(engine.drafts.load(actor, key))


@router.put("/{key}", response_model=DraftPublic, responses=responses(403, 404, 413, 422))
def save_draft(
    key: BundleKey,
    body: DraftSave,
    actor: ApplicantActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Save the caller's answers and uploads so far (replaces their draft of the bundle)."""

    def work(_reservation: object) -> DraftPublic:
        return DraftPublic.from_view(services.engine.drafts.save(actor, key, body.data, body.materials))

    return run_once(services, actor, idempotency_key, ("PUT", request.url.path, body), 200, work)


@router.delete("/{key}", response_model=DraftPublic, responses=responses(403, 404, 422))
def delete_draft(
    key: BundleKey,
    actor: ApplicantActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Discard the caller's draft of a bundle, answering it as it was (404 when there is none)."""

    def work(_reservation: object) -> DraftPublic:
        draft = DraftPublic.from_view(services.engine.drafts.load(actor, key))
        services.engine.drafts.delete(actor, key)
        return draft

    return run_once(services, actor, idempotency_key, ("DELETE", request.url.path, None), 200, work)
