"""Clerk pages: the office's queue, and one task with only what its item may see.

The inbox names the clerk's office (department at division); a supervisor, who reads the
offices of their division's subtree, sees each task's office and may narrow the queue to one
division below.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from api.pages import diagram, i18n, send_back_parts
from api.pages import materials as docs
from api.pages import reviews as review_parts
from api.pages.answers import by_where, display_value, field_problems, form_labels
from api.pages.applicant import SYSTEM_EVENTS
from api.pages.base import Ctx, PageContext, PageRefused, PageRoute, redirect
from api.pages.diagram import case_marks, diagram_state
from api.pages.handover import bulk_bar, handover_panel
from api.pages.offices import division_label, own_offices, reach_divisions, several_divisions
from api.pages.params import TaskId
from api.pages.people import people_names
from api.routes.certificates import pdf_response
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.cases.views import TaskDetail, TimelineEntry
from engine.cases.visibility import may_work_task, task_reach
from engine.errors import AlreadyClaimed, InvalidInput, TaskNotReady
from engine.people.actors import Role
from forms.coerce import coerce_value
from forms.merge import MergedForm
from forms.render import decision_view
from forms.validate import FieldProblem

router = APIRouter(route_class=PageRoute)
# The named diagram the case and task pages draw (/diagrams/{key}/{version}/{lang}.bpmn).
router.include_router(diagram.router)

# Staff read every event of the trail, the departments' own systems' troubles included.
STAFF_EVENTS: dict[str, tuple[str, str]] = {**i18n.EVENT, **SYSTEM_EVENTS}
FILTERS = ("ready", "mine", "overdue", "all")
PAGE_SIZE = 50
COUNT_LIMIT = 200


def _query(flt: str, bundle: str | None, department: str | None, division: str | None) -> dict[str, Any]:
    """The engine's queue filter for one of the page's filters."""
    query: dict[str, Any] = {"bundle": bundle or None, "department": department or None, "division": division}
    if flt == "ready":
        query["state"] = WorkItemState.READY.value
    elif flt == "mine":
        query["state"] = WorkItemState.CLAIMED.value
        query["assignee"] = "me"
    elif flt == "overdue":
        query["overdue"] = True
    return query


@router.get("/inbox")
def inbox(
    ctx: Ctx,
    filter: str = "ready",
    bundle: str = "",
    department: str = "",
    division: str = "",
    cursor: str | None = None,
) -> Response:
    """The queue of the clerk's office (a supervisor's: the offices below too), by due time."""
    actor = ctx.require(Role.CLERK, Role.ADMIN)
    engine = ctx.engine
    regions = engine.regions
    flt = filter if filter in FILTERS else "ready"
    reach = task_reach(actor, regions)
    several = several_divisions(reach)
    choices = reach_divisions(regions, reach) if several else []
    # Only a division the select offers narrows the queue; anything else shows the whole reach.
    narrowed = division if division in {c.code for c in choices} else ""
    page = engine.list_tasks(
        actor, cursor=cursor, limit=PAGE_SIZE, **_query(flt, bundle, department, narrowed or None)
    )
    counts: dict[str, str] = {}
    for name in FILTERS:
        count, more = engine.count_tasks(
            actor, cap=COUNT_LIMIT, **_query(name, bundle, department, narrowed or None)
        )
        counts[name] = f"{count}{'+' if more else ''}"
    bundles = ctx.svc.catalog.bundles()
    departments = engine.deployments.departments
    mine = sorted(actor.departments) if actor.role is Role.CLERK else sorted(departments)
    base = {"filter": flt, "bundle": bundle, "department": department, "division": narrowed}
    return ctx.render(
        "inbox.html",
        tasks=page.items,
        suspended_cases=engine.suspended_cases(t.case_id for t in page.items),
        people=people_names(ctx, (t.assignee for t in page.items)),
        next_url="/inbox?" + urlencode({**base, "cursor": page.next}) if page.next else None,
        flt=flt,
        counts=counts,
        bundle=bundle,
        department=department,
        division=narrowed,
        bundles=bundles,
        names={b.key: b.name for b in bundles},
        departments=departments,
        my_departments=mine,
        offices=own_offices(regions, actor.departments, actor.division) if actor.role is Role.CLERK else [],
        scope=division_label(regions, regions.own(actor.division))
        if actor.role is Role.CLERK or actor.division is not None
        else None,
        supervisor=actor.role is Role.CLERK and actor.supervisor,
        several=several,
        division_choices=choices,
        own_division=regions.own(actor.division),  # a supervisor claims only in their own office
        filter_url=lambda name: "/inbox?" + urlencode({**base, "filter": name}),
        here="/inbox?" + urlencode(base),
        now=engine.clock.now(),
        bulk=bulk_bar(ctx, page.items),
    )


def _decision_entries(
    form: MergedForm, detail: TaskDetail, values: dict[str, Any], problems: list[FieldProblem]
) -> list[dict[str, Any]]:
    """The decision fields this case asks of the clerk, each required, for the form macros.

    A decision field's condition may name answers outside the item's view of the case, so the
    engine decides which are asked (``asked_decision_fields``) and checks the same on completion.
    """
    asked = set(detail.asked_decision_fields)
    entries = decision_view(form, detail.task.item, values, problems)
    return [e | {"required": True, "condition": None, "shown": True} for e in entries if e["key"] in asked]


def _task_page(
    ctx: PageContext,
    detail: TaskDetail,
    problems: list[FieldProblem] | None = None,
    decision: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    engine = ctx.engine
    actor = ctx.actor
    task = detail.task
    case = engine.get_case(actor, task.case_id)
    form = engine.form_for(case.bundle, case.version)
    departments = engine.deployments.departments
    marks = case_marks(case, ctx.words, departments, engine.clock.now())
    lang = ctx.words.lang
    problems = problems or []
    return ctx.render(
        "task.html",
        status=status,
        task=task,
        detail=detail,
        case=case,
        marks=marks,
        diagram=diagram_state(marks, focus=task.task_name),
        departments=departments,
        shown_fields={n: display_value(form, n, v, lang) for n, v in detail.fields.items()},
        labels=form_labels(form, [*detail.fields, *detail.decision_fields]),
        decision_entries=_decision_entries(form, detail, decision or {}, problems),
        problems=problems,
        problems_by=by_where(problems),
        # 挂起: a suspended case's task is neither claimed nor decided (``_task_suspended.html`` says why).
        suspended=case.status == CaseStatus.SUSPENDED,
        mine=task.state == WorkItemState.CLAIMED
        and task.assignee == actor.username
        and case.status != CaseStatus.SUSPENDED,
        may_claim=task.state == WorkItemState.READY
        and case.status != CaseStatus.SUSPENDED
        and may_work_task(actor, task.department, task.division, engine.regions),
        example=detail.example,
        events=STAFF_EVENTS,
        item_names={key: {"zh": i.name_zh, "en": i.name_en} for key, i in form.items.items()},
        trail_labels=_trail_labels(form, case.timeline),
        people=people_names(ctx, {task.assignee, *(e.actor for e in case.timeline)} - {case.applicant}),
        send_back=send_back_parts.task_part(ctx, detail),
        handover=handover_panel(ctx, task),
        reviews=review_parts.task_part(engine, form, detail),
    )


def _trail_labels(form: MergedForm, timeline: Iterable[TimelineEntry]) -> dict[str, dict[str, str]]:
    """The catalog's names of the fields, materials and certificates the trail mentions."""
    keys: set[str] = set()
    for entry in timeline:
        if entry.kind == "certificate_issued" and entry.detail.get("kind"):
            keys.add(str(entry.detail["kind"]))
        for problem in entry.detail.get("problems") or ():
            keys.update(str(problem[k]) for k in ("field", "material") if problem.get(k))
    catalog = form.catalog
    names: dict[str, dict[str, str]] = {}
    for key in keys:
        named = catalog.elements.get(key) or catalog.materials.get(key)
        if named is not None:
            names[key] = {"zh": named.zh, "en": named.en}
    return names


@router.get("/tasks/{task_id}")
def task_page(ctx: Ctx, task_id: TaskId) -> Response:
    """One task: the item's fields and materials, the case on the diagram, claim and decide."""
    actor = ctx.require(Role.CLERK, Role.ADMIN, Role.ANALYST)
    return _task_page(ctx, ctx.engine.get_task(actor, task_id))


@router.post("/tasks/{task_id}/claim")
def claim(ctx: Ctx, task_id: TaskId) -> Response:
    """Take the task (one winner); someone faster sends you back to the queue with a note."""
    actor = ctx.require(Role.CLERK)
    try:
        ctx.engine.claim(actor, task_id)
    except AlreadyClaimed:
        return redirect("/inbox?msg=taken")
    return redirect(f"/tasks/{task_id}?msg=claimed")


@router.post("/tasks/{task_id}/unclaim")
def unclaim(ctx: Ctx, task_id: TaskId) -> Response:
    """Put the task back in the queue."""
    actor = ctx.require(Role.CLERK)
    ctx.engine.unclaim(actor, task_id)
    return redirect(f"/tasks/{task_id}?msg=unclaimed")


@router.post("/tasks/{task_id}/complete")
def complete(ctx: Ctx, task_id: TaskId) -> Response:
    """Approve with the item's decision fields, or return with per-field and per-material problems."""
    actor = ctx.require(Role.CLERK)
    detail = ctx.engine.get_task(actor, task_id)
    posted = ctx.posted
    outcome_text = posted.get("outcome")
    comment_value = posted.get("comment")
    comment = comment_value.strip()[:2000] if isinstance(comment_value, str) else ""
    form = ctx.engine.form_for(detail.task.bundle, detail.task.version)
    decision: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    if outcome_text == Outcome.APPROVE.value:
        outcome = Outcome.APPROVE
        for name in detail.decision_fields:
            value = posted.get(name)
            if isinstance(value, str) and value.strip():
                decision[name] = coerce_value(form, name, value.strip())
    elif outcome_text == Outcome.RETURN.value:
        outcome = Outcome.RETURN
        for name in detail.fields:
            text = posted.get(f"problem:{name}")
            if isinstance(text, str) and text.strip():
                problems.append({"field": name, "message": text.strip()[:500]})
        for kind in detail.materials:
            text = posted.get(f"problem:{kind}")
            if isinstance(text, str) and text.strip():
                problems.append({"material": kind, "message": text.strip()[:500]})
    else:
        found = [FieldProblem("outcome", "请选择通过或退回", "Choose approve or return", "required")]
        return _task_page(ctx, detail, found, status=422)
    try:
        ctx.engine.complete(actor, task_id, outcome, decision, comment, problems)
    except InvalidInput as exc:
        return _task_page(ctx, detail, field_problems(exc.problems), decision, 422)
    except TaskNotReady:
        return redirect(f"/tasks/{task_id}")
    return redirect("/inbox?msg=" + ("approved" if outcome is Outcome.APPROVE else "returned"))


@router.get("/tasks/{task_id}/materials/{kind}")
def task_material(ctx: Ctx, task_id: TaskId, kind: str) -> Response:
    """View a material of the task's item in the browser (only materials the item may see)."""
    actor = ctx.require(Role.CLERK, Role.ADMIN, Role.ANALYST)
    detail = ctx.engine.get_task(actor, task_id)
    material_id = detail.materials.get(kind)
    if material_id is None:
        raise PageRefused(
            404, ("未找到", "Not found"), ("此任务看不到这份材料。", "This task has no such material.")
        )
    issued = ctx.engine.documents.issued_pdf(material_id)  # a certificate an earlier step issued
    if issued is not None:
        return pdf_response(issued, attachment=False)
    return docs.send(ctx.engine, material_id, attachment=False)
