"""Suspend and resume cases (挂起/恢复): supervisors of an office working the case, admins in scope."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import JSONResponse

from api.deps import CaseId, IdempotencyKey, Services, ServicesDep, SupervisorActor
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.cases import CasePublic
from api.schemas.suspension import ResumeCreate, SuspendCreate
from engine.people.actors import Actor
from engine.storage.idempotency import Reservation, outcome_id

router = PrefixedRouter(prefix="/api/cases", tags=["cases"])


@router.post("/{case_id}/suspend", response_model=CasePublic, responses=responses(403, 404, 409, 422))
def suspend_case(
    case_id: CaseId,
    body: SuspendCreate,
    actor: SupervisorActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Suspend a running case (挂起) with a reason and a legal basis, both required.

    Who: a supervisor of an office with an open task of the case, or an admin in scope
    (other staff who see the case: 403; a case the caller may not see: 404). While
    suspended its tasks are neither claimed nor decided, department systems do not fetch
    its external tasks, its timers wait, and its time limit does not run (不计入办理时限).
    409 for a case already suspended, waiting for the applicant, or finished.
    """
    note(case_id=case_id)
    engine = services.engine

    def work(reservation: Reservation | None) -> CasePublic:
        view = engine.suspend(actor, case_id, body.reason, body.legal_basis, reservation=reservation)
        return CasePublic.from_case(view)

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 200, work, _recover(services, actor))


@router.post("/{case_id}/resume", response_model=CasePublic, responses=responses(403, 404, 409, 422))
def resume_case(
    case_id: CaseId,
    actor: SupervisorActor,
    services: ServicesDep,
    request: Request,
    body: ResumeCreate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Resume a suspended case (恢复): due times of its open tasks and its promised date move on by
    the suspended working time. Who: as for suspending. 409 for a case that is not suspended."""
    note(case_id=case_id)
    engine = services.engine
    given = body or ResumeCreate()

    def work(reservation: Reservation | None) -> CasePublic:
        return CasePublic.from_case(engine.resume(actor, case_id, given.note, reservation=reservation))

    asked = ("POST", request.url.path, given)
    return run_once(services, actor, idempotency_key, asked, 200, work, _recover(services, actor))


def _recover(services: Services, actor: Actor) -> Callable[[str], CasePublic]:
    """The answer of a repeated request, rebuilt from its recorded outcome (``case:12``): the case now."""

    def recover(outcome: str) -> CasePublic:
        return CasePublic.from_case(services.engine.get_case(actor, outcome_id(outcome, "case")))

    return recover
