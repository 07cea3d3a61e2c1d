"""The forms that send a case back to an earlier step (task page) and move it (case page).

The engine decides who may (``engine.cases.send_back``); a refusal with problems (no
reason, a step that is not earlier) shows the page again with them (422), a task no longer
open goes back to it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.pages import applicant, clerk
from api.pages.answers import field_problems
from api.pages.base import Ctx, PageContext, PageRoute, redirect
from api.pages.params import CaseId, TaskId
from engine.errors import InvalidInput, TaskNotReady
from engine.people.actors import Role

router = APIRouter(route_class=PageRoute)


def _posted(ctx: PageContext) -> tuple[str, str]:
    """The chosen step and the reason from the posted form."""
    target, reason = ctx.posted.get("target"), ctx.posted.get("reason")
    return (target if isinstance(target, str) else ""), (reason if isinstance(reason, str) else "")


@router.post("/tasks/{task_id}/send-back")
def send_back(ctx: Ctx, task_id: TaskId) -> Response:
    """Send the task's case back to the chosen earlier step, with the reason."""
    actor = ctx.require(Role.CLERK)
    target, reason = _posted(ctx)
    try:
        ctx.engine.send_back(actor, task_id, target, reason)
    except InvalidInput as exc:
        return clerk._task_page(
            ctx, ctx.engine.get_task(actor, task_id), field_problems(exc.problems), None, 422
        )
    except TaskNotReady:
        return redirect(f"/tasks/{task_id}")
    return redirect("/inbox?msg=sent_back")


@router.post("/cases/{case_id}/move")
def move(ctx: Ctx, case_id: CaseId) -> Response:
    """Move the case to the chosen earlier step, with the reason (supervisors and admins)."""
    actor = ctx.require(Role.CLERK, Role.ADMIN)
    target, reason = _posted(ctx)
    try:
        ctx.engine.move_case(actor, case_id, target, reason)
    except InvalidInput as exc:
        case = ctx.engine.get_case(actor, case_id)
        return applicant._case_page(ctx, case, field_problems(exc.problems), 422)
    return redirect(f"/cases/{case_id}?msg=moved")
