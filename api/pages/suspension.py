"""The case page's suspend and resume forms (挂起/恢复), for supervisors and admins who may.

The forms live in ``_case_suspension.html`` (included by ``case.html``); these handlers call
the engine, which decides who may (its refusals become the usual error pages), and go back
to the case page with a flash message.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.pages.base import Ctx, PageRoute, local_path, redirect
from api.pages.params import CaseId
from engine.people.actors import Role

router = APIRouter(route_class=PageRoute)


def _text(ctx: Ctx, name: str) -> str:
    value = ctx.posted.get(name)
    return value if isinstance(value, str) else ""


@router.post("/cases/{case_id}/suspend")
def suspend(ctx: Ctx, case_id: CaseId) -> Response:
    """Suspend the case with the reason and legal basis posted (both required)."""
    actor = ctx.require(Role.CLERK, Role.ADMIN)
    ctx.engine.suspend(actor, case_id, _text(ctx, "reason"), _text(ctx, "legal_basis"))
    return redirect(f"/cases/{case_id}?msg=suspended")


@router.post("/cases/{case_id}/resume")
def resume(ctx: Ctx, case_id: CaseId) -> Response:
    """Resume the suspended case, with the note posted (optional)."""
    actor = ctx.require(Role.CLERK, Role.ADMIN)
    ctx.engine.resume(actor, case_id, _text(ctx, "note"))
    back = local_path(_text(ctx, "back"), "")
    if back.startswith("/supervision"):  # the supervision desk's resume form: back to the desk
        return redirect(f"{back}{'&' if '?' in back else '?'}done=resumed")
    return redirect(f"/cases/{case_id}?msg=resumed")
