"""Documents on the pages: the public verification page, the receipt PDF, the case's results.

- ``GET /verify``: anyone; a form to type a number (``?number=`` goes to its page).
- ``GET /verify/{number}``: anyone (the QR code on a printed certificate leads here); valid,
  revoked (with date and reason) or unknown (404), in the site's language, phone-first.
- ``POST /verify/{number}/revoke``: admins and supervisors of the issuing department (the
  form shows only for them; the engine decides).
- ``GET /cases/{id}/receipt.pdf``: the 受理回执 of a case, for whoever may see the case.
- ``case_documents``: what the case page's ``_case_results.html`` shows (certificates with
  PDF links, the receipt link, the values departments recorded).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.pages.answers import field_problems
from api.pages.base import Ctx, PageContext, PageRoute, redirect
from api.pages.params import CaseId
from api.routes.certificates import pdf_response
from engine.cases.views import CaseView
from engine.documents.views import CertificateStatus
from engine.errors import InvalidInput
from engine.people.actors import Role
from forms.validate import FieldProblem

router = APIRouter(route_class=PageRoute)

NUMBER = re.compile(r"[A-Za-z0-9-]{1,40}")
NumberPath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9-]{1,40}$", description="证照编号 (certificate number)")
]


def _may_revoke(ctx: PageContext) -> bool:
    """Whether the revoke form is offered: admins and supervisors (the engine checks the department)."""
    account = ctx.account
    if account is None:
        return False
    return account.role is Role.ADMIN or (account.role is Role.CLERK and account.supervisor)


def _verify_page(
    ctx: PageContext, number: str, problems: list[Any] | None = None, status: int = 200
) -> Response:
    answer = ctx.engine.documents.verify(number)
    unknown = answer.status is CertificateStatus.UNKNOWN
    return ctx.render(
        "verify.html",
        status=404 if unknown else status,
        answer=answer,
        cert=answer.certificate,
        may_revoke=_may_revoke(ctx) and answer.status is CertificateStatus.VALID,
        problems=problems or [],
    )


@router.get("/verify")
def verify_form(ctx: Ctx, number: str | None = None) -> Response:
    """Type a certificate number to check it (a paper copy without a readable QR code)."""
    typed = (number or "").strip().upper()
    if typed and NUMBER.fullmatch(typed):
        return redirect(f"/verify/{typed}")
    problems = []
    if number is not None:
        problems.append(
            FieldProblem(
                "number",
                "请输入证照上印的编号（字母和数字）",
                "Type the number printed on the certificate (letters and digits)",
                "pattern",
            )
        )
    return ctx.render(
        "verify.html", status=422 if problems else 200, answer=None, cert=None, problems=problems
    )


@router.get("/verify/{number}")
def verify(ctx: Ctx, number: NumberPath) -> Response:
    """Whether a certificate is genuine and in force: what its QR code opens (no sign-in needed)."""
    return _verify_page(ctx, number)


@router.post("/verify/{number}/revoke")
def revoke(ctx: Ctx, number: NumberPath) -> Response:
    """Revoke (吊销/注销) a certificate with a reason: admins and the issuing department's supervisors."""
    actor = ctx.require(Role.ADMIN, Role.CLERK)
    reason = ctx.posted.get("reason")
    try:
        ctx.engine.documents.revoke(actor, number, reason if isinstance(reason, str) else "")
    except InvalidInput as exc:
        return _verify_page(ctx, number, field_problems(exc.problems), 422)
    return redirect(f"/verify/{number}?msg=revoked")


@router.get("/cases/{case_id}/receipt.pdf")
def receipt(ctx: Ctx, case_id: CaseId) -> Response:
    """The case's acceptance receipt (受理回执) as PDF."""
    return pdf_response(ctx.engine.documents.receipt_pdf(ctx.actor, case_id))


def certificate_download(ctx: PageContext, case_id: int, kind: str) -> Response:
    """A certificate of the case as PDF (营业执照-<number>.pdf), for whoever may see the case."""
    return pdf_response(ctx.engine.documents.certificate_pdf(ctx.actor, case_id, kind))


def case_documents(ctx: PageContext, case: CaseView) -> dict[str, Any]:
    """The case page's documents part: certificates, the receipt link, recorded results."""
    documents = ctx.engine.documents
    return {
        "certificates": documents.certificates_of(case),
        "results": documents.results_of(ctx.actor, case),
        "receipt": f"/cases/{case.id}/receipt.pdf",
    }
