"""The supervision desk (督办台): late work, rectifications, complaints, incidents and suspended cases.

For supervisors (clerks with the supervisor flag: ``supervisor.<department>``) and admins.
A supervisor reads their departments' offices in their division's subtree, an admin those in
their scope; the rules are the engine's (``engine.feedback.supervising`` reads with the same
reach and permission functions the writers check). Every action here is an engine operation
the REST API also offers, with the same checks:

- 督办 an overdue task (or a late rectification): ``supervision.resolve`` records what was
  done as a note on the case's trail and closes the entry (``POST /api/supervision/{id}/resolve``);
  the engine offers no reassignment or urging beyond that note;
- answer a complaint (办不成事): ``complaints.answer_complaint`` (``POST /api/complaints/{id}/answer``);
- reply to a bad rating where the reader is the responsible office:
  ``rectification.reply_rectification`` (``POST /api/rectifications/{id}/reply``);
- hand a department system's failed task to the clerks: ``Engine.hand_to_clerk``
  (``POST /api/tasks/{id}/handover``);
- resume a suspended case (挂起办件, ``supervising.suspended``) where the reader may: the case
  page's resume form (``POST /cases/{id}/resume``, ``Engine.resume``), back to the desk.

A refused text (empty, too long) re-renders the page with the problem beside its field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import MAX_ID
from api.pages.base import Ctx, PageContext, PageRefused, PageRoute, local_path, redirect
from api.pages.offices import reach_divisions, several_divisions
from api.pages.params import TaskId
from api.pages.people import people_names
from engine.cases.views import Label, office_label
from engine.deadlines import supervision
from engine.deadlines.supervision import Subject
from engine.errors import InvalidInput, Problem
from engine.feedback import complaints, rectification, supervising
from engine.feedback.supervising import Shown
from engine.people.actors import Actor, Role

router = APIRouter(route_class=PageRoute)

EntryId = Annotated[int, Path(ge=1, le=MAX_ID, description="督办事项 id (supervisor entry id)")]
ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID, description="反映 id (complaint id)")]
RectificationId = Annotated[int, Path(ge=1, le=MAX_ID, description="整改 id (rectification id)")]

# Messages after an action (``?done=code``): only these texts, never text from the address.
DONE: dict[str, tuple[str, str]] = {
    "resolved": ("已记录督办意见，督办事项已办结。", "Your note is recorded and the entry is closed."),
    "answered": ("已答复，反映人将看到您的答复。", "Answered; the applicant sees your answer."),
    "replied": ("整改答复已发出，将显示在办件记录中。", "Your reply is sent and shows on the case."),
    "handed": ("已转人工办理，任务进入部门待办队列。", "Handed to the clerks; the task is in their queue."),
    "resumed": ("办件已恢复办理，办理时限相应顺延。", "The case runs again; its due times moved on."),
}
SHOWN_WORDS: dict[str, tuple[str, str]] = {
    "open": ("待处理", "To do"),
    "done": ("已办结", "Done"),
    "all": ("全部", "All"),
}


def supervisor_of(ctx: PageContext) -> Actor:
    """The signed-in supervisor or admin; anyone else gets the 403 page (and a stranger the sign-in)."""
    actor = ctx.actor
    if actor.role is Role.ADMIN or (actor.role is Role.CLERK and actor.supervisor):
        return actor
    raise PageRefused(
        403,
        ("无权访问", "Not allowed"),
        (
            "督办台仅供督办人员和管理员使用。",
            "The supervision desk is for supervisors and administrators.",
        ),
    )


@dataclass(frozen=True)
class TaskRow:
    """One late task on the desk: its entry (when escalated), where it is, how late, what may be done."""

    task_id: int
    case_id: int | None
    bundle: str
    item: str
    department: str
    division: str
    office: Label
    due_at: datetime | None
    state: str  # the entry's: "open" or "resolved"; "overdue" for a late task not escalated yet
    task_state: str
    assignee: str | None
    entry_id: int | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str = ""
    note: str = ""
    may_resolve: bool = False


def late_by(tr: Callable[[str, str], str], due: datetime | None, now: datetime) -> str:
    """How long past its due time something is, in days and hours ("" when not late)."""
    if due is None or due >= now:
        return ""
    hours = int((now - due).total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    if days:
        return tr(f"超期 {days} 天 {hours} 小时", f"{days} d {hours} h late")
    return tr(f"超期 {hours} 小时", f"{hours} h late")


def _task_rows(
    ctx: PageContext, actor: Actor, shown: Shown, department: str | None, division: str | None
) -> tuple[list[TaskRow], dict[int, supervising.SupervisedEntry]]:
    """The late-task rows, and the open entries of late rectifications by rectification id."""
    engine = ctx.engine
    regions = engine.regions
    found = supervising.entries(
        engine.db, actor, regions=regions, shown=shown, department=department, division=division
    )
    rows: list[TaskRow] = []
    late_rectifications: dict[int, supervising.SupervisedEntry] = {}
    for s in found:
        e = s.entry
        if e.subject == Subject.RECTIFICATION and e.state == supervision.EntryState.OPEN:
            late_rectifications[e.subject_id] = s
        if e.subject != Subject.WORK_ITEM:
            continue
        rows.append(
            TaskRow(
                task_id=e.subject_id,
                case_id=e.case_id,
                bundle=e.bundle,
                item=e.item,
                department=e.department,
                division=e.division,
                office=office_label(regions, e.department, e.division),
                due_at=e.due_at,
                state=e.state,
                task_state=s.task.state if s.task else "",
                assignee=s.task.assignee if s.task else None,
                entry_id=e.id,
                opened_at=e.opened_at,
                resolved_at=e.resolved_at,
                resolved_by=e.resolved_by,
                note=e.note,
                may_resolve=s.may_resolve,
            )
        )
    if shown is not Shown.DONE:
        # Tasks still late without an open entry: 督办 already done (its note shown), or the
        # escalation not fired yet (a bundle may escalate after the due time).
        listed = {r.task_id for r in rows}
        earlier = (
            supervising.entries(
                engine.db, actor, regions=regions, shown=Shown.DONE, department=department, division=division
            )
            if shown is Shown.OPEN
            else []
        )
        supervised = {s.entry.subject_id: s.entry for s in earlier if s.entry.subject == Subject.WORK_ITEM}
        page = engine.list_tasks(
            actor, overdue=True, department=department, division=division, limit=supervising.LIMIT
        )
        for t in page.items:
            if t.id in listed:
                continue
            done = supervised.get(t.id)
            rows.append(
                TaskRow(
                    task_id=t.id,
                    case_id=t.case_id,
                    bundle=t.bundle,
                    item=t.item,
                    department=t.department,
                    division=t.division,
                    office=t.office,
                    due_at=t.due_at,
                    state="resolved" if done else "overdue",
                    task_state=t.state,
                    assignee=t.assignee,
                    entry_id=done.id if done else None,
                    resolved_at=done.resolved_at if done else None,
                    resolved_by=done.resolved_by if done else "",
                    note=done.note if done else "",
                )
            )
    return rows, late_rectifications


def _desk(
    ctx: PageContext,
    *,
    shown_text: str = "open",
    department: str = "",
    division: str = "",
    problems: dict[str, list[Problem]] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The desk page for the filters given (``problems``/``typed``: a refused form, by its id)."""
    actor = supervisor_of(ctx)
    engine = ctx.engine
    regions = engine.regions
    shown = Shown(shown_text) if shown_text in {s.value for s in Shown} else Shown.OPEN
    reach = supervision.reach_of(actor, regions)
    mine = sorted(reach.departments) if reach.departments is not None else []
    dept = department if department and (reach.departments is None or department in reach.departments) else ""
    choices = reach_divisions(regions, reach) if several_divisions(reach) else []
    div = division if division in {c.code for c in choices} else ""
    narrow = {"department": dept or None, "division": div or None}
    tasks, late_rectifications = _task_rows(ctx, actor, shown, **narrow)
    rects = supervising.rectifications(engine.db, actor, regions=regions, shown=shown, **narrow)
    said = supervising.complaints(engine.db, actor, regions=regions, shown=shown, **narrow)
    incidents = []
    if shown is not Shown.DONE:
        below = regions.subtree(div) if div else None
        incidents = [
            t
            for t in engine.incidents(actor)
            if (not dept or t.department == dept) and (below is None or t.division in below)
        ]
    # 挂起办件: the suspended cases of one's offices (_supervision_suspended.html), while anything is open.
    suspended = []
    if shown is not Shown.DONE:
        suspended = supervising.suspended(engine.db, actor, regions=regions, **narrow)
    names: dict[tuple[str, str], Any] = {}
    bundles = ctx.svc.catalog.bundles()
    for b in bundles:
        for item in b.items:
            names[(b.key, str(item.get("key")))] = item.get("name")
    departments = engine.deployments.departments
    base = {"state": shown.value, "department": dept, "division": div}
    done = ctx.request.query_params.get("done", "")
    now = engine.clock.now()
    return ctx.render(
        "supervision.html",
        status=status,
        shown=shown.value,
        shown_words=SHOWN_WORDS,
        department=dept,
        division=div,
        department_choices=mine if actor.role is Role.CLERK else sorted(departments),
        division_choices=choices,
        tasks=tasks,
        rectifications=rects,
        late_rectifications=late_rectifications,
        complaints=said,
        incidents=incidents,
        suspended=suspended,
        suspenders=people_names(ctx, (c.suspension.suspended_by for c in suspended)),
        departments=departments,
        bundle_names={b.key: b.name for b in bundles},
        item_names=names,
        office=lambda d, v: office_label(regions, d, v),
        now=now,
        late_by=lambda due: late_by(ctx.words.tr, due, now),
        filter_url=lambda name: "/supervision?" + urlencode({**base, "state": name}),
        back="/supervision?" + urlencode(base),
        done=DONE.get(done),
        problems=problems or {},
        typed=typed or {},
    )


@router.get("/supervision")
def desk(ctx: Ctx, state: str = "open", department: str = "", division: str = "") -> Response:
    """The supervision desk: late tasks, rectifications, complaints and incidents of one's offices."""
    return _desk(ctx, shown_text=state, department=department, division=division)


def _text(ctx: PageContext, name: str) -> str:
    """A posted text field ('' when missing)."""
    value = ctx.posted.get(name)
    return value if isinstance(value, str) else ""


def _back(ctx: PageContext, done: str) -> Response:
    """Back to the desk with the filters it had, and the message of what was done."""
    target = local_path(_text(ctx, "back"), "/supervision")
    if not target.startswith("/supervision"):
        target = "/supervision"
    joiner = "&" if "?" in target else "?"
    return redirect(f"{target}{joiner}done={done}")


def _refused(ctx: PageContext, form_id: str, field: str, exc: InvalidInput) -> Response:
    """The desk again, with the refused form's problems beside its field and its text kept."""
    target = local_path(_text(ctx, "back"), "/supervision")
    query = {name: values[0] for name, values in parse_qs(urlsplit(target).query).items()}
    problems = exc.problems or [Problem(exc.message, where=field)]
    return _desk(
        ctx,
        shown_text=query.get("state", "open"),
        department=query.get("department", ""),
        division=query.get("division", ""),
        problems={form_id: problems},
        typed={form_id: _text(ctx, field)},
        status=422,
    )


def _act(
    ctx: PageContext, form_id: str, field: str, done: str, operation: Callable[[Actor, str], object]
) -> Response:
    """One desk action with the posted text of ``field``: back to the desk with ``done``'s
    message, or the desk again with the engine's refusal beside the form (``form_id``)."""
    actor = supervisor_of(ctx)
    try:
        operation(actor, _text(ctx, field))
    except InvalidInput as exc:
        return _refused(ctx, form_id, field, exc)
    return _back(ctx, done)


@router.post("/supervision/entries/{entry_id}/resolve")
def resolve_entry(ctx: Ctx, entry_id: EntryId) -> Response:
    """督办: record what was done about a late task (or a late rectification) and close its entry."""
    engine = ctx.engine
    return _act(
        ctx,
        f"entry-{entry_id}",
        "note",
        "resolved",
        lambda actor, text: supervision.resolve(
            engine.db, engine.clock, actor, entry_id, text, regions=engine.regions
        ),
    )


@router.post("/supervision/complaints/{complaint_id}/answer")
def answer_complaint(ctx: Ctx, complaint_id: ComplaintId) -> Response:
    """Answer a complaint (办不成事) of an office one supervises; the applicant sees the answer."""
    engine = ctx.engine
    return _act(
        ctx,
        f"complaint-{complaint_id}",
        "reply",
        "answered",
        lambda actor, text: complaints.answer_complaint(
            engine.db, engine.clock, actor, complaint_id, text, regions=engine.regions
        ),
    )


@router.post("/supervision/rectifications/{rectification_id}/reply")
def reply_rectification(ctx: Ctx, rectification_id: RectificationId) -> Response:
    """Reply to a bad rating for the responsible office (a supervisor there, or an admin in scope)."""
    engine = ctx.engine
    return _act(
        ctx,
        f"rectification-{rectification_id}",
        "reply",
        "replied",
        lambda actor, text: rectification.reply_rectification(
            engine.db, engine.clock, actor, rectification_id, text, regions=engine.regions
        ),
    )


@router.post("/supervision/incidents/{task_id}/handover")
def hand_over(ctx: Ctx, task_id: TaskId) -> Response:
    """Hand a department system's failed task to the department's clerks, with the reason."""
    return _act(
        ctx,
        f"incident-{task_id}",
        "reason",
        "handed",
        lambda actor, text: ctx.engine.hand_to_clerk(actor, task_id, text),
    )
