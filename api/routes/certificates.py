"""Certificates (电子证照) and receipts as documents: public verification, revocation, PDF downloads.

Who may call:
- ``GET /api/certificates/{number}``: anyone, signed in or not (what a QR code on a printed
  licence leads to); the answer holds only what the certificate prints;
- ``POST /api/certificates/{number}/revoke``: admins, and supervisors of the issuing office's
  department (the engine refuses every other role with 403, whatever the number);
- ``GET /api/cases/{id}/outputs/{kind}`` and ``GET /api/cases/{id}/receipt``: whoever may see
  the case (404 for anyone else, as for the case itself).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response

from api.deps import CaseId, CurrentActor, EngineDep, IdempotencyKey, RoleGate, ServicesDep
from api.errors import ERROR_DOCS, responses
from api.headers import UNTRUSTED_POLICY
from api.idempotency import run_once
from api.logs import note
from api.schemas.certificates import RevocationCreate, VerificationPublic
from api.schemas.common import ErrorPublic
from engine.documents.service import CertificateNotFound
from engine.documents.views import CertificateStatus, RenderedDocument
from engine.people.actors import Actor, Role

router = APIRouter(tags=["certificates"])

CertificateNumber = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9-]{1,40}$", description="证照编号 (certificate number)")
]
MaterialKind = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="证照类型 (certificate kind)")
]
# Revoking: admins, and clerks (the engine lets only supervisors of the issuing department through).
RevokingActor = Annotated[Actor, Depends(RoleGate(Role.ADMIN, Role.CLERK))]
PDF_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "description": "PDF 文件 (the PDF document)",
    }
}


def pdf_response(document: RenderedDocument, *, attachment: bool = True) -> Response:
    """A rendered PDF, offered under its own (Chinese) file name, never cached by shared caches."""
    disposition = "attachment" if attachment else "inline"
    return Response(
        document.content,
        media_type=document.media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(document.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": UNTRUSTED_POLICY,
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/api/certificates/{number}",
    response_model=VerificationPublic,
    responses={
        404: {"model": ErrorPublic, "description": "查无此证 (no certificate has this number)"},
        422: ERROR_DOCS[422],
        503: ERROR_DOCS[503],
    },
)
def verify_certificate(number: CertificateNumber, engine: EngineDep) -> VerificationPublic:
    """Verify a certificate by its number (public): valid, or revoked with date and reason; 404 if unknown."""
    answer = engine.documents.verify(number)
    if answer.status is CertificateStatus.UNKNOWN:
        raise CertificateNotFound(f"查无此证：{number} (no certificate has this number)")
    return VerificationPublic.from_view(answer)


@router.post(
    "/api/certificates/{number}/revoke",
    response_model=VerificationPublic,
    responses=responses(403, 404, 409, 422),
)
def revoke_certificate(
    number: CertificateNumber,
    body: RevocationCreate,
    actor: RevokingActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Revoke a certificate (吊销/注销): admins, and supervisors of the issuing department.

    Its verification answers ``revoked`` with the date and reason from now on; the case that
    issued it gets an audit line. Revoking a revoked certificate is a 409.
    """

    def work(_reservation: object) -> VerificationPublic:
        answer = services.engine.documents.revoke(actor, number, body.reason)
        note(certificate=number)
        return VerificationPublic.from_view(answer)

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 200, work)


@router.get(
    "/api/cases/{case_id}/outputs/{kind}",
    response_class=Response,
    responses={**PDF_DOC, **responses(404, 422)},
)
def certificate_pdf(case_id: CaseId, kind: MaterialKind, actor: CurrentActor, engine: EngineDep) -> Response:
    """A certificate the case issued, as PDF (with its QR code to the verification page)."""
    return pdf_response(engine.documents.certificate_pdf(actor, case_id, kind))


@router.get(
    "/api/cases/{case_id}/receipt",
    response_class=Response,
    responses={**PDF_DOC, **responses(404, 422)},
)
def receipt_pdf(case_id: CaseId, actor: CurrentActor, engine: EngineDep) -> Response:
    """The case's acceptance receipt (受理回执) as PDF: code, items, promised date, materials, QR code."""
    return pdf_response(engine.documents.receipt_pdf(actor, case_id))
