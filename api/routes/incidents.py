"""Incidents of department systems, and handing an external task to a clerk (人工兜底).

``GET /api/incidents`` lists the external tasks whose retries ran out: a supervisor sees
those of their departments, an admin all of them. ``POST /api/tasks/{id}/handover`` makes an
incident (or a system task that is stuck) an ordinary task in its department's queue, with
the reason on the case's trail; the engine checks that the caller supervises the department.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import IdempotencyKey, ServicesDep, SupervisorActor, TaskId
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.schemas.incidents import HandoverCreate, IncidentPublic
from api.schemas.tasks import TaskPublic
from engine.storage.idempotency import Reservation

router = APIRouter(tags=["tasks"])


@router.get("/api/incidents", response_model=list[IncidentPublic], responses=responses(403))
def list_incidents(actor: SupervisorActor, services: ServicesDep) -> list[IncidentPublic]:
    """The department systems' incidents the caller supervises (admins: all), oldest first."""
    return [IncidentPublic.from_view(t) for t in services.engine.incidents(actor)]


@router.post(
    "/api/tasks/{task_id}/handover", response_model=TaskPublic, responses=responses(403, 404, 409, 422)
)
def hand_over(
    task_id: TaskId,
    body: HandoverCreate,
    actor: SupervisorActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Hand a department system's task to the department's clerks as an ordinary task."""
    note(task_id=task_id)

    def work(_reservation: Reservation | None) -> TaskPublic:
        view = services.engine.hand_to_clerk(actor, task_id, body.reason)
        note(case_id=view.case_id)
        return TaskPublic.from_view(view)

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 200, work)
