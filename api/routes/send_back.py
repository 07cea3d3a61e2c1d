"""Sending a case back to an earlier department step (退回到指定环节), and a supervisor's move.

``GET /api/tasks/{id}/send-back-targets`` lists the earlier department steps the task's case
may go back to (what the diagram allows: the completed user tasks the task came from);
``POST /api/tasks/{id}/send-back`` sends it there with a reason. ``GET|POST
/api/cases/{id}/move(-targets)`` is the supervisors' escape hatch: any earlier step of any
open task. The engine checks who may (``engine.cases.send_back``).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import CaseId, ClerkActor, IdempotencyKey, Services, ServicesDep, SupervisorActor, TaskId
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.schemas.send_back import SendBackCreate, StepTargetPublic
from api.schemas.tasks import TaskPublic
from engine.people.actors import Actor
from engine.storage.idempotency import Reservation, outcome_id

router = APIRouter(tags=["tasks"])


@router.get(
    "/api/tasks/{task_id}/send-back-targets",
    response_model=list[StepTargetPublic],
    responses=responses(403, 404, 422),
)
def send_back_targets(task_id: TaskId, actor: ClerkActor, services: ServicesDep) -> list[StepTargetPublic]:
    """The earlier department steps a clerk of the task's office may send its case back to, nearest first.

    Clerks of the task's office and supervisors above it; empty once the task is no longer open.
    """
    return [StepTargetPublic.from_view(t) for t in services.engine.send_back_targets(actor, task_id)]


@router.post(
    "/api/tasks/{task_id}/send-back", response_model=TaskPublic, responses=responses(403, 404, 409, 422)
)
def send_back(
    task_id: TaskId,
    body: SendBackCreate,
    actor: ClerkActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Send the case back from this task to an earlier department step, with a reason; the reopened task.

    Its assignee (a clerk of its office) or a supervisor of its office. The step's department
    gets a new task with its earlier decision beside it; the steps after it are cancelled and
    run again as the diagram requires. 409 when the task is no longer open (a decision won the
    race) or the case waits for the applicant; 422 for an empty reason or a step that is not
    an earlier completed one.
    """
    note(task_id=task_id)

    def work(reservation: Reservation | None) -> TaskPublic:
        view = services.engine.send_back(actor, task_id, body.target, body.reason, reservation=reservation)
        note(case_id=view.case_id)
        return TaskPublic.from_view(view)

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 200, work, _task_of(services, actor))


@router.get(
    "/api/cases/{case_id}/move-targets",
    response_model=list[StepTargetPublic],
    responses=responses(403, 404, 422),
)
def move_targets(case_id: CaseId, actor: SupervisorActor, services: ServicesDep) -> list[StepTargetPublic]:
    """The earlier steps a supervisor (or an admin) may move the case to: those of any of its open tasks."""
    return [StepTargetPublic.from_view(t) for t in services.engine.move_targets(actor, case_id)]


@router.post("/api/cases/{case_id}/move", response_model=TaskPublic, responses=responses(403, 404, 409, 422))
def move_case(
    case_id: CaseId,
    body: SendBackCreate,
    actor: SupervisorActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Move a running case back to an earlier step (the escape hatch), with a reason; the reopened task.

    Supervisors of an office of one of its open tasks, and admins in scope; a plain clerk
    never (403). Audited with the elements waited at before and after. Forward moves are not
    offered (a skipped step's decision would be missing).
    """
    note(case_id=case_id)

    def work(reservation: Reservation | None) -> TaskPublic:
        view = services.engine.move_case(actor, case_id, body.target, body.reason, reservation=reservation)
        return TaskPublic.from_view(view)

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 200, work, _task_of(services, actor))


def _task_of(services: Services, actor: Actor) -> Callable[[str], TaskPublic]:
    """The answer rebuilt from the recorded outcome (``task:34``): the reopened task now."""

    def recover(outcome: str) -> TaskPublic:
        return TaskPublic.from_view(services.engine.reopened_task(actor, outcome_id(outcome, "task")))

    return recover
