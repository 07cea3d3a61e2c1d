"""The applicant's complaints (办不成事反映): file one, on a case or alone, and follow its answer.

An applicant who could not get a thing done says so here; the complaint goes to the
supervisors of the department (the one named, else the one holding the case, else the
government service centre) with a deadline for the answer. Filing is
``engine.feedback.complaints.complain``, the operation ``POST /api/complaints`` calls; the
supervisors answer on the supervision desk (``api.pages.supervision``). Only its author
reads a complaint: anyone else gets the 404 page an unknown one gets.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import MAX_ID
from api.pages.answers import by_where, field_problems
from api.pages.base import Ctx, PageContext, PageRoute, redirect
from engine.deadlines.supervision import GENERAL_DEPARTMENT
from engine.errors import InvalidInput
from engine.feedback import complaints
from engine.feedback.checks import MAX_TEXT
from engine.people.actors import Actor, Role
from forms.validate import FieldProblem

router = APIRouter(route_class=PageRoute)

ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID, description="反映 id (complaint id)")]
CaseChoice = Annotated[int | None, Query(ge=1, le=MAX_ID, description="办件 id (case id)")]
CASES_OFFERED = 50  # the newest cases the form offers to complain about

# Messages after a redirect (``?done=code``): only these texts, never text from the address.
DONE: dict[str, tuple[str, str]] = {
    "filed": (
        "已收到您的反映，督办人员将在答复期限前答复您。",
        "We have your complaint; a supervisor answers it by the date shown.",
    ),
}


def _departments(ctx: PageContext) -> list[str]:
    """The departments a complaint may name: those of the bundles on offer, and the service centre."""
    found = {d for b in ctx.svc.catalog.bundles() for d in b.departments}
    return [*sorted(found - {GENERAL_DEPARTMENT}), GENERAL_DEPARTMENT]


def _form_page(
    ctx: PageContext,
    actor: Actor,
    values: dict[str, Any],
    problems: list[FieldProblem] | None = None,
    status: int = 200,
) -> Response:
    """The filing form with the applicant's cases, the departments, and any problems beside their fields."""
    engine = ctx.engine
    cases = engine.list_cases(actor, limit=CASES_OFFERED).items
    chosen = values.get("case_id")
    departments = _departments(ctx)
    if chosen:
        case = engine.get_case(actor, int(chosen))  # not the applicant's: the 404 page
        if all(c.id != case.id for c in cases):
            cases = (case, *cases)
        departments = list(engine.bundle_detail(case.bundle, case.version).summary.departments)
    problems = problems or []
    return ctx.render(
        "complaint_new.html",
        status=status,
        cases=cases,
        names=ctx.svc.catalog.names(),
        department_choices=departments,
        departments=engine.deployments.departments,
        values=values,
        problems=problems,
        problems_by=by_where(problems),
        max_text=MAX_TEXT,
    )


@router.get("/complaints")
def my_complaints(ctx: Ctx) -> Response:
    """The applicant's complaints, newest first, with their deadlines, states and answers."""
    actor = ctx.require(Role.APPLICANT)
    engine = ctx.engine
    return ctx.render(
        "complaints.html",
        complaints=complaints.complaints_of(engine.db, actor),
        names=ctx.svc.catalog.names(),
        departments=engine.deployments.departments,
        now=engine.clock.now(),
    )


@router.get("/complaints/new")
def new_complaint(ctx: Ctx, case_id: CaseChoice = None) -> Response:
    """The form to file a complaint, about one of the applicant's cases (``case_id``) or none."""
    actor = ctx.require(Role.APPLICANT)
    return _form_page(ctx, actor, {"case_id": str(case_id) if case_id else "", "department": "", "text": ""})


@router.post("/complaints/new")
def file_complaint(ctx: Ctx) -> Response:
    """File the complaint; a refused one comes back with each problem beside its field."""
    actor = ctx.require(Role.APPLICANT)
    engine = ctx.engine
    posted = ctx.posted
    values: dict[str, str] = {}
    for name in ("case_id", "department", "text"):
        value = posted.get(name)
        values[name] = value if isinstance(value, str) else ""
    case_text = values["case_id"].strip()
    if case_text and not (case_text.isdigit() and 0 < int(case_text) <= MAX_ID):
        found = [FieldProblem("case_id", "请选择您的办件", "Choose one of your cases", "case")]
        return _form_page(ctx, actor, values | {"case_id": ""}, found, 422)
    try:
        view = complaints.complain(
            engine.db,
            engine.clock,
            actor,
            int(case_text) if case_text else None,
            values["text"],
            values["department"].strip() or None,
            calendar=engine.calendar,
        )
    except InvalidInput as exc:
        return _form_page(ctx, actor, values, field_problems(exc.problems), 422)
    return redirect(f"/complaints/{view.id}?done=filed")


@router.get("/complaints/{complaint_id}")
def complaint_page(ctx: Ctx, complaint_id: ComplaintId) -> Response:
    """One of the applicant's complaints: what they said, to whom, by when, and the answer."""
    actor = ctx.require(Role.APPLICANT)
    engine = ctx.engine
    view = complaints.complaint_of(engine.db, actor, complaint_id)
    return ctx.render(
        "complaint.html",
        complaint=view,
        names=ctx.svc.catalog.names(),
        departments=engine.deployments.departments,
        now=engine.clock.now(),
        done=DONE.get(ctx.request.query_params.get("done", "")),
    )
