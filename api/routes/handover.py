"""Handing tasks over and bulk actions: reassign (转办), delegate (委托), release a clerk's tasks, bulk.

Thin routes over ``engine.cases.handover`` and ``engine.cases.bulk``: the engine decides who
may; every mutating route takes an ``Idempotency-Key``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import ClerkActor, IdempotencyKey, Services, ServicesDep, SupervisorActor, TaskId, Username
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.schemas.handover import (
    BulkResultPublic,
    ClerkRelease,
    OfficeClerkPublic,
    ReleasedPublic,
    TaskBulk,
    TaskBulkPublic,
    TaskDelegate,
    TaskReassign,
)
from api.schemas.tasks import TaskPublic
from engine.people.actors import Actor
from engine.storage.idempotency import Reservation, outcome_id

router = APIRouter(tags=["tasks"])


@router.get(
    "/api/tasks/{task_id}/clerks", response_model=list[OfficeClerkPublic], responses=responses(403, 404, 422)
)
def office_clerks(task_id: TaskId, actor: SupervisorActor, services: ServicesDep) -> list[OfficeClerkPublic]:
    """The active clerks of the task's office, with their display names: whom to reassign or delegate to.

    Clerks and admins who may see the task (404 otherwise).
    """
    return [OfficeClerkPublic.from_view(c) for c in services.engine.office_clerks(actor, task_id)]


@router.post(
    "/api/tasks/{task_id}/reassign", response_model=TaskPublic, responses=responses(403, 404, 409, 422)
)
def reassign_task(
    task_id: TaskId,
    body: TaskReassign,
    actor: SupervisorActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """转办: a supervisor of the task's office (or above it), or an admin in scope, gives a claimed task
    to another active clerk of the same office, with a reason.

    ``expected`` is the assignee the caller saw: 409 when the task is not claimed or is no
    longer theirs (of two supervisors reassigning at once, one wins); 422 when ``to`` is not an
    active clerk of the office.
    """
    note(task_id=task_id)

    def work(reservation: Reservation | None) -> TaskPublic:
        view = services.engine.reassign(
            actor, task_id, body.to, body.reason, expected=body.expected, reservation=reservation
        )
        note(case_id=view.case_id)
        return TaskPublic.from_view(view)

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 200, work, _task_now(services, actor))


@router.post(
    "/api/tasks/{task_id}/delegate", response_model=TaskPublic, responses=responses(403, 404, 409, 422)
)
def delegate_task(
    task_id: TaskId,
    body: TaskDelegate,
    actor: ClerkActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """委托: the assignee hands their claimed task to another active clerk of the office, with a note
    the new assignee reads on the task page. 409 when the caller does not hold the task."""
    note(task_id=task_id)

    def work(reservation: Reservation | None) -> TaskPublic:
        view = services.engine.delegate(actor, task_id, body.to, body.note, reservation=reservation)
        note(case_id=view.case_id)
        return TaskPublic.from_view(view)

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 200, work, _task_now(services, actor))


@router.post(
    "/api/clerks/{username}/release", response_model=ReleasedPublic, responses=responses(403, 404, 422)
)
def release_tasks(
    username: Username,
    actor: SupervisorActor,
    services: ServicesDep,
    request: Request,
    body: ClerkRelease | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Every task the clerk holds goes back to its office queue (a clerk on leave), each release audited.

    The clerk themself, or a supervisor (or admin) of the clerk's office; answers how many
    were released. An optional body gives the reason, written on each task's staff trail.
    Naturally repeatable: a second call releases what was claimed since.
    """
    reason = body.reason if body else ""

    def work(_reservation: Reservation | None) -> ReleasedPublic:
        return ReleasedPublic.from_view(services.engine.release_tasks(actor, username, reason))

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 200, work)


@router.post("/api/tasks/bulk", response_model=TaskBulkPublic, responses=responses(403, 409, 422))
def bulk_tasks(
    body: TaskBulk,
    actor: ClerkActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Claim, unclaim (release) or approve several tasks at once (at most 100), each in its own transaction.

    Clerks only, on tasks they may work. The answer has a result per task, ``ok`` or ``refused``
    with the reason; a refusal leaves the others done. With an ``Idempotency-Key`` each task is
    idempotent on its own: a retried request never decides a task twice, and a task this same
    request already did answers with its earlier result.
    """
    note(bulk=body.action.value, tasks=len(body.tasks))

    def work(_reservation: Reservation | None) -> TaskBulkPublic:
        results = services.engine.bulk(
            actor,
            body.action,
            body.tasks,
            body.data,
            body.comment,
            idempotency=services.idempotency,
            key=idempotency_key,
        )
        return TaskBulkPublic(results=[BulkResultPublic.from_view(r) for r in results])

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 200, work)


def _task_now(services: Services, actor: Actor) -> Callable[[str], TaskPublic]:
    """The answer of a hand-over rebuilt from its recorded outcome (``task:34``): the task now."""

    def recover(outcome: str) -> TaskPublic:
        return TaskPublic.from_view(services.engine.get_task(actor, outcome_id(outcome, "task")).task)

    return recover
