"""Applicant pages: the bundles on offer, one form to apply, the cases and where they stand."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.pages import documents, home, i18n, send_back_parts
from api.pages.answers import (
    MATERIAL_PREFIX,
    by_where,
    field_problems,
    form_labels,
    posted_answers,
    posted_materials,
)
from api.pages.base import Ctx, PageContext, PageRefused, PageRoute, redirect
from api.pages.diagram import StepMark, case_marks, diagram_state
from api.pages.i18n import Words
from api.pages.params import CaseId
from engine.cases import supplement_scope
from engine.cases.reading import STAFF_ONLY_KINDS
from engine.cases.states import FINISHED_CASE_STATES, CaseStatus, decided
from engine.cases.views import BundleDetail, CaseView
from engine.errors import CaseNotWaiting, InvalidInput
from engine.feedback import ratings
from engine.feedback.views import case_feedback
from engine.people.actors import Role
from forms.render import form_view
from forms.validate import FieldProblem

router = APIRouter(route_class=PageRoute)

# Timeline words for the kinds of the departments' own systems, as staff read them ...
SYSTEM_EVENTS: dict[str, tuple[str, str]] = {
    "message_correlated": ("收到部门系统消息", "Message from a department system"),
    "message_sent": ("向部门系统发送消息", "Message sent to department systems"),
    "started_by_message": ("由部门系统发起（免申即享）", "Started by a department system"),
    "external_task_failed": ("部门系统报错，将重试", "Department system failed; it retries"),
    "incident_raised": ("部门系统故障（待处理）", "Incident: the department system failed"),
    "incident_resolved": ("部门系统故障已处理", "Incident resolved"),
    "bpmn_error": ("部门系统回传业务错误", "Department system reported a business error"),
    "handed_to_clerk": ("转人工办理", "Handed to a clerk"),
}
# ... and as the applicant reads them: a system at work, never its troubles.
APPLICANT_SYSTEM_EVENTS: dict[str, tuple[str, str]] = {
    **SYSTEM_EVENTS,
    "external_task_failed": ("部门系统处理中", "Department system at work"),
    "incident_raised": ("部门系统处理中", "Department system at work"),
    "incident_resolved": ("部门系统处理中", "Department system at work"),
    "bpmn_error": ("部门系统已回传办理结果", "The department system reported back"),
    "handed_to_clerk": ("转窗口人员办理", "Passed to a clerk"),
}

# The applicant's milestones: what happened to the case, in plain words, without who clicked
# what (claims, queues, timers and usernames are the staff's trail). {dept}: the office or
# department that acted; {item}: its item; {cert}: a certificate's name.
MILESTONES: dict[str, tuple[str, str]] = {
    "submitted": ("提交申请", "Application submitted"),
    "received_at_window": ("窗口已代收申请", "Application received at a service window"),
    "approved": ("{dept}已办结：{item}", "{dept} finished: {item}"),
    "notice_issued": ("收到一次性补正通知，请按通知补正", "Correction notice sent to you: please supplement"),
    "supplemented": ("您已提交补正", "You sent your supplement"),
    "certificate_issued": ("签发电子证照：{cert}", "Certificate issued: {cert}"),
    "certificate_superseded": (
        "{cert}已重新签发，原证照作废",
        "{cert} issued anew; the earlier one is no longer valid",
    ),
    "completed": ("全部办结", "Case finished"),
    "rejected": ("不予办理", "Case rejected"),
    "withdrawn": ("您已撤回申请", "You withdrew the application"),
    "follow_on_started": ("后续服务已自动启动（免申即享）", "A follow-on service started for you"),
    "rated": ("您已评价", "You rated the service"),
    "rectification_replied": ("差评整改已答复", "Your rating was answered"),
    "complaint": ("您已反映“办不成事”问题", "You filed a complaint"),
    "complaint_answered": ("反映已答复", "Your complaint was answered"),
    "sent_back": (
        "{dept}将办件退回{to_dept}重新审核",
        "{dept} sent the case back to {to_dept} to review again",
    ),
    "case_moved": ("办件已转回{to_dept}重新办理", "The case went back to {to_dept} to be handled again"),
    # 挂起/恢复: the reason and legal basis are in the case page's notice (``_case_suspension.html``).
    "suspended": (
        "办件暂停办理（暂停期间不计入办理时限）",
        "Case suspended (the time limit does not run meanwhile)",
    ),
    "resumed": ("办件恢复办理，办理时限相应顺延", "Case resumed; the time limit moved on accordingly"),
    # 版本迁移: what changed for the applicant, never which version or which steps moved.
    "case_migrated": (
        "办理流程已按新版规定更新，已办结的环节不受影响",
        "The procedure was updated to the new rules; the steps already finished stay as they are",
    ),
    # 智能预审: that a document was read and checked; its findings are on the application and task pages.
    "material_reviewed": ("材料预审完成：{cert}", "Your document was read and checked: {cert}"),
}
# The kinds the applicant's milestones leave out on purpose: the desks' own work (queues, claims,
# timers, clocks, escalations, rectification and the departments' systems' troubles), the step a
# send-back reopens (its ``sent_back`` line says it) and the hand-overs inside an office
# (``engine.cases.reading.STAFF_ONLY_KINDS``). Every kind of ``engine.cases.events`` is either
# in MILESTONES or here (tests/api/test_applicant_event_words.py).
APPLICANT_HIDDEN_KINDS: frozenset[str] = STAFF_ONLY_KINDS | frozenset(
    {
        "task_created",
        "task_cancelled",
        "claimed",
        "unclaimed",
        "returned",  # the clerk's return: the applicant reads its notice_issued
        "certificate_revoked",
        "timer_fired",
        "finished",
        "follow_on_due",
        "follow_on_failed",
        "overdue",
        "escalated",
        "escalation_resolved",
        "sla_paused",
        "rectification_opened",
        "rectification_overdue",
        "external_task_failed",
        "incident_raised",
        "incident_resolved",
        "bpmn_error",
        "handed_to_clerk",
        "step_reopened",
    }
)
# Names of the rating form's fields, for the server's messages next to them.
RATING_LABELS: dict[str, dict[str, str]] = {
    "score": {"zh": "满意程度", "en": "Satisfaction"},
    "department": {"zh": "评价对象", "en": "What you rate"},
    "comment": {"zh": "意见建议", "en": "Comments"},
}


@router.get("/")
def bundles(ctx: Ctx, q: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """The bundles on offer by audience and life event, and what each saves; ?q= ranks them (智能导办)."""
    departments = ctx.engine.deployments.departments
    cards = [home.card(ctx.engine, b, departments) for b in ctx.svc.catalog.bundles()]
    q = (q or "").strip()
    # A sent question is ranked (智能导办); one that matches nothing says so and lists everything.
    found = home.ranked(cards, ctx.engine.search_bundles(q)) if q else []
    return ctx.render(
        "bundles.html",
        sections=home.sections(cards),
        total=len(cards),
        shown=len(found) if found else len(cards),
        q=q,
        found=found,
        match_fields=home.MATCH_FIELDS,
        departments=departments,
    )


@router.get("/cases")
def my_cases(ctx: Ctx, cursor: str | None = None) -> Response:
    """The applicant's cases, newest first."""
    actor = ctx.require(Role.APPLICANT)
    page = ctx.engine.list_cases(actor, cursor=cursor, limit=50)
    names = ctx.svc.catalog.names()
    drafts = ctx.engine.drafts.list(actor)  # the applications saved but not yet sent (_drafts.html)
    return ctx.render("cases.html", cases=page.items, next=page.next, names=names, drafts=drafts)


def _milestones(
    ctx: PageContext, case: CaseView, detail: BundleDetail, labels: dict[str, Any]
) -> list[dict[str, Any]]:
    """The case's milestones as its applicant reads them (newest first): no usernames, no desk work."""
    words = ctx.words
    departments = ctx.engine.deployments.departments
    items = {i["key"]: i for i in detail.summary.items}
    tasks = {t.id: t for t in case.tasks}
    found: list[dict[str, Any]] = []
    for e in case.timeline:
        said = MILESTONES.get(e.kind)
        if said is None:
            continue
        item = items.get(str(e.detail.get("item", "")), {})
        task = tasks.get(e.work_item_id) if e.work_item_id is not None else None
        office = words.label(task.office) if task is not None else ""
        department = item.get("department", "")
        certificate = labels.get(str(e.detail.get("kind", "")))
        values = {
            "dept": office or words.label(departments.get(department), words.tr("部门", "A department")),
            "item": words.label(item.get("name"), words.tr("办理事项", "an item")),
            "cert": words.label(certificate, words.tr("电子证照", "a certificate")),
            "to_dept": words.label(
                departments.get(str(e.detail.get("to_department", ""))), words.tr("部门", "a department")
            ),
        }
        found.append({"at": e.at, "kind": e.kind, "text": words.tr(*said).format(**values)})
    return found[::-1]


def _waiting_for_round(
    case: CaseView, marks: list[StepMark], departments: dict[str, Any], words: Words
) -> list[str]:
    """Departments that returned the case while others of the round still work (their names).

    The notice goes out once every department of the round has looked (一次性告知), so until
    then the case reads 办理中 with a return pending; the page says what will happen.
    """
    if case.status != "running":
        return []
    returned = [m for m in marks if m.state == "returned"]
    if not returned or not any(m.state in ("active", "late") for m in marks):
        return []
    names = [
        words.label(m.task.office) or words.label(departments.get(m.task.department), m.task.department)
        for m in returned
    ]
    return list(dict.fromkeys(names))


def _case_page(
    ctx: PageContext,
    case: CaseView,
    problems: list[FieldProblem] | None = None,
    status: int = 200,
    *,
    rating_failed: bool = False,
) -> Response:
    engine = ctx.engine
    actor = ctx.actor
    detail = engine.bundle_detail(case.bundle, case.version)
    form = engine.form_for(case.bundle, case.version)
    departments = engine.deployments.departments
    marks = case_marks(case, ctx.words, departments, engine.clock.now())
    is_owner = actor.role is Role.APPLICANT and case.applicant == actor.username
    # The owner is offered exactly what the engine will accept (one rule: engine.supplement_scope).
    scope = supplement_scope.Asked((), ())
    if is_owner:
        with suppress(CaseNotWaiting):
            scope = supplement_scope.asked(case.status, case.notice, case.pending_materials)
    problems = problems or []
    said = case_feedback(engine.db, actor, case.id, regions=engine.regions)
    rated = {r.department for r in said.ratings}
    values = case.data or {}
    labels = form_labels(form, form.fields) | RATING_LABELS
    groups = form_view(form, values, problems)
    notice_fields = [f for g in groups for f in g["fields"] if f["key"] in scope.fields]
    for f in notice_fields:
        f["shown"] = True
    return ctx.render(
        "case.html",
        status=status,
        case=case,
        events={**i18n.EVENT, **(APPLICANT_SYSTEM_EVENTS if actor.role is Role.APPLICANT else SYSTEM_EVENTS)},
        bundle=detail.summary,
        marks=marks,
        diagram=diagram_state(marks),
        departments=departments,
        notice_fields=notice_fields,
        asked_materials=[
            e.as_dict() | {"shown": True, "condition": None}
            for e in form.checklist(values)
            if e.kind in scope.materials
        ],
        item_names={i["key"]: i["name"] for i in detail.summary.items},
        labels=labels,
        milestones=_milestones(ctx, case, detail, labels) if actor.role is Role.APPLICANT else [],
        pending_return=_waiting_for_round(case, marks, departments, ctx.words),
        may_withdraw=is_owner
        and case.status not in (*FINISHED_CASE_STATES, CaseStatus.SUSPENDED)
        and not decided(t.state for t in case.tasks),
        problems=problems,
        problems_by=by_where(problems),
        material_prefix=MATERIAL_PREFIX,
        feedback=said,
        rating_targets=[t for t in ("", *detail.summary.departments) if t not in rated],
        is_owner=is_owner,
        rating_failed=rating_failed,
        case_documents=documents.case_documents(ctx, case),
        step_moves=send_back_parts.case_part(ctx, case),
        may_suspend=engine.may_suspend(actor, case.id),
    )


@router.get("/cases/{case_id}")
def case_page(ctx: Ctx, case_id: CaseId) -> Response:
    """Where a case stands: the diagram with its steps marked, the timeline, notice, certificates."""
    case = ctx.engine.get_case(ctx.actor, case_id)
    return _case_page(ctx, case)


@router.get("/cases/{case_id}/withdraw")
def withdraw_confirm(ctx: Ctx, case_id: CaseId) -> Response:
    """Ask once more before a withdrawal (撤回): what it ends, and that it cannot be undone."""
    actor = ctx.require(Role.APPLICANT)
    case = ctx.engine.get_case(actor, case_id)
    if case.applicant != actor.username or case.status in FINISHED_CASE_STATES:
        raise PageRefused(
            409,
            ("不能撤回", "Cannot be withdrawn"),
            ("此办件已结束，不能撤回。", "This case has ended and cannot be withdrawn."),
        )
    if decided(t.state for t in case.tasks):
        raise PageRefused(
            409,
            ("不能撤回", "Cannot be withdrawn"),
            (
                "已有部门作出办理决定，不能再撤回。如需停止办理，请联系办理部门。",
                "A department has already decided; the case can no longer be withdrawn. Contact the office.",
            ),
        )
    bundle = ctx.engine.bundle_detail(case.bundle, case.version).summary
    return ctx.render("case_withdraw.html", case=case, bundle=bundle)


@router.post("/cases/{case_id}/withdraw")
def withdraw(ctx: Ctx, case_id: CaseId) -> Response:
    """Withdraw the application; the engine refuses once a department has decided (a 409 page)."""
    actor = ctx.require(Role.APPLICANT)
    ctx.engine.withdraw(actor, case_id)
    return redirect(f"/cases/{case_id}?msg=withdrawn")


@router.post("/cases/{case_id}/supplement")
def supplement(ctx: Ctx, case_id: CaseId) -> Response:
    """Answer the correction notice: corrected answers and the missing materials, in one go.

    The fields the page posted go to the engine as they are; it refuses any the notice did not ask.
    """
    actor = ctx.require(Role.APPLICANT)
    case = ctx.engine.get_case(actor, case_id)
    form = ctx.engine.form_for(case.bundle, case.version)
    posted = ctx.posted
    merged = posted_answers(form, posted, case.data or {})
    data = {name: value for name, value in merged.items() if name in posted}
    materials = posted_materials(posted, form.materials)
    try:
        ctx.engine.supplement(actor, case_id, data, materials)
    except InvalidInput as exc:
        return _case_page(ctx, case, field_problems(exc.problems), 422)
    return redirect(f"/cases/{case_id}?msg=supplemented")


@router.post("/cases/{case_id}/rating")
def rate(ctx: Ctx, case_id: CaseId) -> Response:
    """Rate a finished case (好差评); a bad rating opens a rectification task."""
    actor = ctx.require(Role.APPLICANT)
    engine = ctx.engine
    posted = ctx.posted
    score_text = posted.get("score")
    comment = posted.get("comment")
    department = posted.get("department")
    score = int(score_text) if isinstance(score_text, str) and score_text.isdigit() else 0
    try:
        ratings.rate(
            engine.db,
            engine.clock,
            actor,
            case_id,
            score,
            comment if isinstance(comment, str) else "",
            department if isinstance(department, str) else "",
            calendar=engine.calendar,
        )
    except InvalidInput as exc:
        # ratings.rate checks the case is the applicant's before it checks the rating.
        case = engine.get_case(actor, case_id)
        return _case_page(ctx, case, field_problems(exc.problems), 422, rating_failed=True)
    return redirect(f"/cases/{case_id}?msg=rated")


@router.get("/cases/{case_id}/outputs/{kind}")
def certificate(ctx: Ctx, case_id: CaseId, kind: str) -> Response:
    """Download a certificate the case issued, as PDF (only for those who may see the case)."""
    return documents.certificate_download(ctx, case_id, kind)
