"""After the fact: complaints (办不成事反映), rectification of bad ratings (差评整改), supervision (督办).

The rules live in ``engine.feedback`` and ``engine.deadlines``; these routes only say who may call:

- complaints are filed by applicants and read back by their authors; a supervisor of the
  complaint's department (or an admin) answers it;
- a bad rating's rectification is listed for the clerks of the responsible department (and,
  read-only, for analysts and admins) and answered by one of those clerks;
- the supervisor queue (overdue tasks, late rectifications, complaints) is read by the
  department's supervisors, analysts and admins, and worked by supervisors and admins.

A supervisor is a clerk whose account carries the supervisor flag (``onething user add
--supervisor``; the demo accounts ``supervisor.<department>``). Any other clerk is refused
the supervisor routes with 403, whatever the id; an entry or complaint of a department the
caller does not supervise is a 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request, status
from fastapi.responses import JSONResponse

from api.deps import (
    DEPARTMENT_KEY,
    DIVISION,
    MAX_ID,
    ApplicantActor,
    CurrentActor,
    EngineDep,
    IdempotencyKey,
    RoleGate,
    ServicesDep,
    StaffActor,
)
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.feedback import (
    ComplaintCreate,
    ComplaintPublic,
    RectificationPublic,
    ReplyCreate,
    ResolveCreate,
    SupervisionEntryPublic,
)
from engine.deadlines import supervision
from engine.errors import NotAllowed
from engine.feedback import complaints, rectification
from engine.people.actors import Actor, Role
from engine.storage.idempotency import Reservation, outcome_id

router = PrefixedRouter(prefix="/api", tags=["feedback"])


def supervisor_actor(actor: CurrentActor) -> Actor:
    """Supervisors (clerks with the supervisor flag) and admins; 403 for everyone else."""
    if actor.role is Role.ADMIN or (actor.role is Role.CLERK and actor.supervisor):
        return actor
    raise NotAllowed("此操作仅限督办人员 (only supervisors)")


SupervisorActor = Annotated[Actor, Depends(supervisor_actor)]
# The engine lets the responsible department's clerks and admins answer a bad rating.
Replier = Annotated[Actor, Depends(RoleGate(Role.CLERK, Role.ADMIN))]

ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID, description="反映 id (complaint id)")]
RectificationId = Annotated[int, Path(ge=1, le=MAX_ID, description="整改 id (rectification id)")]
EntryId = Annotated[int, Path(ge=1, le=MAX_ID, description="督办事项 id (supervisor entry id)")]
DepartmentFilter = Annotated[
    str | None,
    Query(
        pattern=DEPARTMENT_KEY,
        description="部门；缺省为本人所属全部部门 (department key; all of the caller's when absent)",
    ),
]


# -- complaints -----------------------------------------------------------------------------
@router.post(
    "/complaints",
    response_model=ComplaintPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 404, 409, 422),
)
def file_complaint(
    body: ComplaintCreate,
    actor: ApplicantActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """File a complaint (办不成事), on one of the caller's cases or alone; it lands in a supervisor queue.

    With an ``Idempotency-Key``, a repeated submission files it once and answers the first answer.
    """
    engine = services.engine

    def work(reservation: Reservation | None) -> ComplaintPublic:
        view = complaints.complain(
            engine.db,
            engine.clock,
            actor,
            body.case_id,
            body.text,
            body.department,
            calendar=engine.calendar,
            reservation=reservation,
        )
        note(case_id=view.case_id, complaint_id=view.id, department=view.department)
        return ComplaintPublic.from_view(view)

    def recover(outcome: str) -> ComplaintPublic:
        complaint = complaints.complaint_of(engine.db, actor, outcome_id(outcome, "complaint"))
        return ComplaintPublic.from_view(complaint)

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 201, work, recover)


@router.get("/complaints", response_model=list[ComplaintPublic], responses=responses(403))
def list_complaints(actor: ApplicantActor, engine: EngineDep) -> list[ComplaintPublic]:
    """The caller's own complaints, newest first, with the supervisors' answers.

    Supervisors find the complaints to answer in ``GET /api/supervision`` (subject ``complaint``).
    """
    return [ComplaintPublic.from_view(c) for c in complaints.complaints_of(engine.db, actor)]


@router.post(
    "/complaints/{complaint_id}/answer",
    response_model=ComplaintPublic,
    responses=responses(403, 404, 409, 422),
)
def answer_complaint(
    complaint_id: ComplaintId,
    body: ReplyCreate,
    actor: SupervisorActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Answer a complaint of a department the caller supervises; its author and its case see the answer."""
    note(complaint_id=complaint_id)
    engine = services.engine

    def work(reservation: Reservation | None) -> ComplaintPublic:
        view = complaints.answer_complaint(
            engine.db,
            engine.clock,
            actor,
            complaint_id,
            body.reply,
            regions=engine.regions,
            reservation=reservation,
        )
        note(case_id=view.case_id, department=view.department)
        return ComplaintPublic.from_view(view)

    def recover(outcome: str) -> ComplaintPublic:
        complaint = complaints.supervised_complaint(
            engine.db, actor, outcome_id(outcome, "complaint"), regions=engine.regions
        )
        return ComplaintPublic.from_view(complaint)

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 200, work, recover)


# -- rectifications -------------------------------------------------------------------------
@router.get("/rectifications", response_model=list[RectificationPublic], responses=responses(403, 422))
def list_rectifications(
    actor: StaffActor, engine: EngineDep, department: DepartmentFilter = None
) -> list[RectificationPublic]:
    """Open rectification tasks, soonest deadline first: a clerk's departments, or all for analysts."""
    views = rectification.rectifications_for(engine.db, actor, department, regions=engine.regions)
    return [RectificationPublic.from_view(v) for v in views]


@router.post(
    "/rectifications/{rectification_id}/reply",
    response_model=RectificationPublic,
    responses=responses(403, 404, 409, 422),
)
def reply_rectification(
    rectification_id: RectificationId,
    body: ReplyCreate,
    actor: Replier,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Answer a bad rating of the caller's department; the reply goes on the case's timeline."""
    note(rectification_id=rectification_id)
    engine = services.engine

    def work(reservation: Reservation | None) -> RectificationPublic:
        view = rectification.reply_rectification(
            engine.db,
            engine.clock,
            actor,
            rectification_id,
            body.reply,
            regions=engine.regions,
            reservation=reservation,
        )
        note(case_id=view.case_id, department=view.department)
        return RectificationPublic.from_view(view)

    def recover(outcome: str) -> RectificationPublic:
        view = rectification.rectification_of(
            engine.db, actor, outcome_id(outcome, "rectification"), regions=engine.regions
        )
        return RectificationPublic.from_view(view)

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 200, work, recover)


# -- supervision ----------------------------------------------------------------------------
@router.get("/supervision", response_model=list[SupervisionEntryPublic], responses=responses(403, 422))
def supervision_queue(
    actor: StaffActor,
    engine: EngineDep,
    department: DepartmentFilter = None,
    division: Annotated[
        str | None,
        Query(
            pattern=DIVISION,
            description="行政区划：该区划及其下级办理机构的督办事项，限于本人督办范围 "
            "(division code: entries of the offices in it and below, within the caller's reach)",
        ),
    ] = None,
) -> list[SupervisionEntryPublic]:
    """Open entries of the supervisor queue, oldest first: overdue tasks, late rectifications, complaints.

    A supervisor reads their departments' offices in their division's subtree; admins and
    analysts those in their scope.
    """
    entries = supervision.queue_for(engine.db, actor, department, regions=engine.regions, division=division)
    return [SupervisionEntryPublic.from_view(e) for e in entries]


@router.post(
    "/supervision/{entry_id}/resolve",
    response_model=SupervisionEntryPublic,
    responses=responses(403, 404, 409, 422),
)
def resolve_entry(
    entry_id: EntryId,
    body: ResolveCreate,
    actor: SupervisorActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Close an overdue-task or late-rectification entry with what was done (complaints: answer them)."""
    note(escalation_id=entry_id)
    engine = services.engine

    def work(reservation: Reservation | None) -> SupervisionEntryPublic:
        view = supervision.resolve(
            engine.db,
            engine.clock,
            actor,
            entry_id,
            body.note,
            regions=engine.regions,
            reservation=reservation,
        )
        note(case_id=view.case_id, department=view.department)
        return SupervisionEntryPublic.from_view(view)

    def recover(outcome: str) -> SupervisionEntryPublic:
        view = supervision.entry_of(
            engine.db, actor, outcome_id(outcome, "escalation"), regions=engine.regions
        )
        return SupervisionEntryPublic.from_view(view)

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, body), 200, work, recover)
