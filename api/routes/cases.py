"""Cases: apply, list, follow, supplement after a correction notice, withdraw, rate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query, Request, status
from fastapi.responses import JSONResponse

from api.deps import (
    ApplicantActor,
    CaseId,
    CurrentActor,
    Cursor,
    EngineDep,
    IdempotencyKey,
    Limit,
    RoleGate,
    ServicesDep,
)
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.cases import CaseCreate, CaseListPublic, CasePublic, CaseSummaryPublic, SupplementCreate
from api.schemas.common import DIVISION_CODE
from api.schemas.feedback import RatingCreate, RatingPublic
from api.schemas.reviews import reviews_public
from engine.cases.states import CaseStatus
from engine.feedback.ratings import rate
from engine.feedback.views import case_feedback
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.idempotency import Reservation, outcome_id

router = PrefixedRouter(prefix="/api/cases", tags=["cases"])

# Applying: applicants for themselves, clerks at a window for an applicant (代收).
ApplyingActor = Annotated[Actor, Depends(RoleGate(Role.APPLICANT, Role.CLERK))]


@router.post(
    "",
    response_model=CasePublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 404, 409, 422),
)
def start_case(
    body: CaseCreate,
    actor: ApplyingActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Apply for a bundle with one form and one set of materials; every problem comes back at once.

    ``division`` says where the case is decided. A clerk receives an application for an
    applicant (``applicant``; 异地代收 when ``division`` is another's): the receiving office is
    recorded and follows the case, and the deciding division's offices decide it.
    Applicants apply only for themselves (403 when naming another applicant).
    """
    note(bundle=body.bundle, division=body.division)

    def work(reservation: Reservation | None) -> CasePublic:
        view = services.engine.start_case(
            actor,
            body.bundle,
            body.data,
            body.materials,
            body.promised,
            division=body.division,
            applicant=body.applicant,
            received_department=body.received_department,
            reservation=reservation,
            confirm_duplicate=body.confirm_duplicate,
        )
        note(case_id=view.id)
        return CasePublic.from_case(view)

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 201, work, _case_of(services.engine, actor))


@router.get("", response_model=CaseListPublic, responses=responses(422))
def list_cases(
    actor: CurrentActor,
    engine: EngineDep,
    status_: Annotated[
        CaseStatus | None, Query(alias="status", description="按状态筛选 (filter by status)")
    ] = None,
    division: Annotated[
        str | None,
        Query(
            pattern=DIVISION_CODE,
            description="在该行政区划及其下级办理的办件，限于本人可见范围 "
            "(division code: cases decided in it or below, within what the caller may see)",
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> CaseListPublic:
    """Cases the caller may see, newest first: applicants their own, clerks their offices' (and received)."""
    page = engine.list_cases(actor, status=status_, division=division, cursor=cursor, limit=limit)
    return CaseListPublic(items=[CaseSummaryPublic.from_view(c) for c in page.items], next=page.next)


@router.get("/{case_id}", response_model=CasePublic, responses=responses(404, 422))
def get_case(case_id: CaseId, actor: CurrentActor, engine: EngineDep) -> CasePublic:
    """A case with its tasks, timeline and correction notice (404 when not the caller's to see).

    ``reviews`` (智能预审, kind -> review) comes with the materials, for those who see them.
    """
    view = engine.get_case(actor, case_id)
    answer = CasePublic.from_case(view)
    reviews = engine.reviews.for_case(view)
    answer.reviews = None if reviews is None else reviews_public(reviews)
    return answer


@router.post("/{case_id}/supplement", response_model=CasePublic, responses=responses(403, 404, 409, 422))
def supplement_case(
    case_id: CaseId,
    body: SupplementCreate,
    actor: ApplicantActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Answer the correction notice with changed fields and new materials; the returned tasks run again."""
    note(case_id=case_id, fields=sorted(body.data), materials=sorted(body.materials))
    engine = services.engine

    def work(reservation: Reservation | None) -> CasePublic:
        return CasePublic.from_case(
            engine.supplement(actor, case_id, body.data, body.materials, reservation=reservation)
        )

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 200, work, _case_of(engine, actor))


@router.post("/{case_id}/withdraw", response_model=CasePublic, responses=responses(403, 404, 409, 422))
def withdraw_case(
    case_id: CaseId,
    actor: ApplicantActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Withdraw an unfinished case; its open tasks are cancelled."""
    note(case_id=case_id)
    engine = services.engine

    def work(reservation: Reservation | None) -> CasePublic:
        return CasePublic.from_case(engine.withdraw(actor, case_id, reservation=reservation))

    asked = ("POST", request.url.path, None)
    return run_once(services, actor, idempotency_key, asked, 200, work, _case_of(engine, actor))


@router.post(
    "/{case_id}/rating",
    response_model=RatingPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 404, 409, 422),
)
def rate_case(
    case_id: CaseId,
    body: RatingCreate,
    actor: ApplicantActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Rate a finished case once (好差评); a rating of 1 or 2 opens a rectification for the department."""
    note(case_id=case_id, score=body.score, department=body.department)
    engine = services.engine

    def work(reservation: Reservation | None) -> RatingPublic:
        view = rate(
            engine.db,
            engine.clock,
            actor,
            case_id,
            body.score,
            body.comment,
            body.department,
            calendar=engine.calendar,
            reservation=reservation,
        )
        return RatingPublic.from_view(view)

    def recover(outcome: str) -> RatingPublic:
        rating_id = outcome_id(outcome, "rating")
        ratings = case_feedback(engine.db, actor, case_id, regions=engine.regions).ratings
        return RatingPublic.from_view(next(r for r in ratings if r.id == rating_id))

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 201, work, recover)


def _case_of(engine: Engine, actor: Actor) -> Callable[[str], CasePublic]:
    """The answer of a case action rebuilt from its recorded outcome (``case:12``): the case now."""

    def recover(outcome: str) -> CasePublic:
        return CasePublic.from_case(engine.get_case(actor, outcome_id(outcome, "case")))

    return recover
