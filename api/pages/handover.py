"""Clerk pages for handing tasks over and for bulk actions of the inbox.

The inbox gets a checkbox per task and a bulk bar (claim, release, approve: the decision
fields of each item on the page, shared by the selected tasks of that item); the task page
gets reassign (supervisors, admins in scope) and delegate (its assignee) with a picker of the
office's clerks by name, and the note of the hand-over that gave the task to its assignee;
"release all my tasks" puts every task the clerk holds back in the queue, and a supervisor's
office page (``/supervision/clerks``) lists the office's clerks with how many tasks each
holds and releases all of one clerk's (on leave) with a reason. The engine decides
who may (``engine.cases.handover``, ``engine.cases.bulk``); refusals come back as its errors'
pages, per-task refusals of a bulk action as a results page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Username
from api.pages.base import Ctx, PageContext, PageRoute, redirect
from api.pages.params import TaskId
from api.pages.supervision import supervisor_of
from engine.cases.bulk import MAX_BULK, BulkAction, BulkResult, BulkStatus
from engine.cases.handover import HandoverNote, OfficeClerk
from engine.cases.states import WorkItemState
from engine.cases.views import Label, WorkItemView
from engine.cases.visibility import may_supervise_task, may_work_task
from engine.errors import InvalidInput, NotFound, Problem
from engine.people.actors import Actor, Role
from forms.coerce import coerce_value
from forms.render import decision_view

router = APIRouter(route_class=PageRoute)


@dataclass(frozen=True)
class BulkItem:
    """One item on the inbox page: its name and the decision fields a bulk approval fills for it."""

    key: str
    name: Label
    entries: list[dict[str, Any]]


@dataclass(frozen=True)
class BulkRow:
    """One task's line on the bulk results page."""

    task: int
    case_id: int | None
    name: Label | None
    ok: bool
    detail: str


def bulk_bar(ctx: PageContext, tasks: Sequence[WorkItemView]) -> dict[str, Any]:
    """What the inbox's bulk bar needs: whether it shows, a fresh request key, each item's decision fields."""
    actor = ctx.actor
    if actor.role is not Role.CLERK or not tasks:
        return {"shown": False}
    items: list[BulkItem] = []
    seen_items: set[tuple[str, int, str]] = set()
    seen_fields: set[str] = set()  # a field two items share is filled once: the same value for both
    for t in tasks:
        if (t.bundle, t.version, t.item) in seen_items:
            continue
        seen_items.add((t.bundle, t.version, t.item))
        form = ctx.engine.form_for(t.bundle, t.version)
        entries = [
            e | {"required": False, "condition": None, "shown": True}
            for e in decision_view(form, t.item, {})
            if e["key"] not in seen_fields
        ]
        seen_fields.update(e["key"] for e in entries)
        items.append(BulkItem(t.item, t.item_name, entries))
    return {"shown": True, "key": uuid.uuid4().hex, "groups": items, "limit": MAX_BULK}


def handover_panel(ctx: PageContext, task: WorkItemView) -> dict[str, Any]:
    """What the task page's hand-over panel needs: who may do what, the clerks to pick, the last note."""
    actor = ctx.actor
    engine = ctx.engine
    if task.state != WorkItemState.CLAIMED:
        return {"shown": False}
    regions = engine.regions
    mine = task.assignee == actor.username
    may_reassign = may_supervise_task(actor, task.department, task.division, regions)
    may_delegate = mine and may_work_task(actor, task.department, task.division, regions)
    note: HandoverNote | None = None
    if mine or may_reassign:
        note = engine.handover_note(actor, task.id)
    clerks = []
    if may_reassign or may_delegate:
        clerks = [
            {"username": c.username, "name": ctx.words.person_name(c.label), "supervisor": c.supervisor}
            for c in engine.office_clerks(actor, task.id)
            if c.username != task.assignee
        ]
    return {
        "shown": bool(note or clerks),
        "note": note,
        "clerks": clerks,
        "reassign": may_reassign and bool(clerks),
        "delegate": may_delegate and bool(clerks),
    }


def _text(ctx: PageContext, name: str) -> str:
    value = ctx.posted.get(name)
    return value.strip() if isinstance(value, str) else ""


def _selected(ctx: PageContext) -> list[int]:
    """The ticked tasks (each once, in page order); none or too many is a problem of the form."""
    chosen: list[int] = []
    for raw in ctx.posted.getlist("task"):
        if isinstance(raw, str) and raw.isdigit() and len(raw) < 19:
            chosen.append(int(raw))
    chosen = list(dict.fromkeys(chosen))
    if not chosen or len(chosen) > MAX_BULK:
        raise InvalidInput(
            "请选择任务",
            [
                Problem(
                    f"请勾选 1 至 {MAX_BULK} 个任务",
                    where="task",
                    rule="bulk-size",
                    message_en=f"tick 1 to {MAX_BULK} tasks",
                )
            ],
        )
    return chosen


@router.post("/inbox/bulk")
def bulk(ctx: Ctx) -> Response:
    """Claim, release or approve the ticked tasks, each on its own; the result of each on one page.

    The form's key makes a repeated post (a double click, a reload) do nothing twice: each
    task this post already did shows its earlier result.
    """
    actor = ctx.require(Role.CLERK)
    engine = ctx.engine
    action_text = _text(ctx, "action")
    if action_text not in {a.value for a in BulkAction}:
        raise InvalidInput(
            "请选择操作",
            [Problem("请选择批量操作", where="action", rule="required", message_en="choose an action")],
        )
    action = BulkAction(action_text)
    chosen = _selected(ctx)
    key = _text(ctx, "bulk_key")[:64] or None
    comment = _text(ctx, "comment")[:2000]
    store = ctx.svc.idempotency
    views: dict[int, WorkItemView] = {}
    for task in chosen:
        try:
            views[task] = engine.get_task(actor, task).task
        except NotFound:
            continue
    results: dict[int, BulkResult] = {}
    if action is BulkAction.APPROVE:
        groups: dict[tuple[str, int, str], list[int]] = {}
        for task in chosen:
            if task in views:
                v = views[task]
                groups.setdefault((v.bundle, v.version, v.item), []).append(task)
        for (bundle_key, version, item), ids in groups.items():
            form = engine.form_for(bundle_key, version)
            data: dict[str, Any] = {}
            for name in form.decision_fields(item):
                value = _text(ctx, name)
                if value:
                    data[name] = coerce_value(form, name, value)
            for r in engine.bulk(actor, action, ids, data, comment, idempotency=store, key=key):
                results[r.task] = r
    else:
        found = [t for t in chosen if t in views]
        if found:
            for r in engine.bulk(actor, action, found, idempotency=store, key=key):
                results[r.task] = r
    rows = [_row(task, views.get(task), results.get(task), ctx) for task in chosen]
    return ctx.render("inbox_bulk.html", action=action.value, rows=rows, released=None)


def _row(task: int, view: WorkItemView | None, result: BulkResult | None, ctx: PageContext) -> BulkRow:
    if view is None or result is None:
        missing = ctx.words.tr("没有这个任务，或您无权查看。", "No such task, or you may not see it.")
        return BulkRow(task, None, None, False, missing)
    ok = result.status is BulkStatus.OK
    said = ctx.words.label(result.reason) if result.reason else ""
    return BulkRow(task, view.case_id, view.item_name, ok, "" if ok else said)


@router.post("/inbox/release")
def release_mine(ctx: Ctx) -> Response:
    """Every task the clerk holds goes back to the office queue (before leave); says how many."""
    actor = ctx.require(Role.CLERK)
    done = ctx.engine.release_tasks(actor, actor.username)
    return ctx.render("inbox_bulk.html", action="release", rows=[], released=done)


@router.post("/tasks/{task_id}/reassign")
def reassign(ctx: Ctx, task_id: TaskId) -> Response:
    """转办: a supervisor gives the claimed task to the clerk picked, with a reason."""
    actor = ctx.require(Role.CLERK, Role.ADMIN)
    expected = _text(ctx, "expected")
    ctx.engine.reassign(actor, task_id, _text(ctx, "to"), _text(ctx, "reason"), expected=expected)
    return redirect(f"/tasks/{task_id}?msg=reassigned")


@router.post("/tasks/{task_id}/delegate")
def delegate(ctx: Ctx, task_id: TaskId) -> Response:
    """委托: the assignee hands the task to the clerk picked, with a note."""
    actor = ctx.require(Role.CLERK)
    ctx.engine.delegate(actor, task_id, _text(ctx, "to"), _text(ctx, "note"))
    return redirect(f"/tasks/{task_id}?msg=delegated")


@dataclass(frozen=True)
class ReleasedRow:
    """One task a supervisor's release put back in the queue, as the result lists it."""

    task: int
    case_id: int
    name: Label


def _office_clerks_page(
    ctx: PageContext,
    actor: Actor,
    *,
    problems: dict[str, list[Problem]] | None = None,
    typed: dict[str, str] | None = None,
    released: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The office's clerks with the tasks they hold; a refused form's problems; a release's result."""
    clerks = [
        {"username": c.clerk.username, "name": ctx.words.person_name(c.clerk.label), "open": c.open_tasks}
        for c in ctx.engine.clerks_to_release(actor)
    ]
    return ctx.render(
        "office_clerks.html",
        status=status,
        clerks=clerks,
        problems=problems or {},
        typed=typed or {},
        released=released,
    )


@router.get("/supervision/clerks")
def office_clerks(ctx: Ctx) -> Response:
    """A supervisor's office page: each clerk of their offices and the claimed tasks they hold."""
    return _office_clerks_page(ctx, supervisor_of(ctx))


@router.post("/supervision/clerks/{username}/release")
def release_for(ctx: Ctx, username: Username) -> Response:
    """Every task of the supervisor's offices the clerk holds goes back to the queue (请假, 转办).

    A reason and the confirmation box are required (the page again with the problem beside
    the field otherwise); the engine decides who may (a clerk of an office the supervisor does
    not see: 404; one they see but do not supervise: 403), as ``POST /api/clerks/{username}/release``.
    """
    actor = supervisor_of(ctx)
    ctx.engine.check_release_for(actor, username)  # who may, before what was filled in
    reason = _text(ctx, "reason")
    found: list[Problem] = []
    if not reason:
        found.append(Problem("请填写释放原因", where="reason", rule="required", message_en="give a reason"))
    if _text(ctx, "confirm") != "yes":
        found.append(
            Problem("请勾选确认", where="confirm", rule="required", message_en="tick the box to confirm")
        )
    before: dict[str, OfficeClerk] = {c.clerk.username: c.clerk for c in ctx.engine.clerks_to_release(actor)}
    if found:
        return _office_clerks_page(
            ctx, actor, problems={username: found}, typed={username: reason[:1000]}, status=422
        )
    done = ctx.engine.release_tasks(actor, username, reason)
    rows: list[ReleasedRow] = []
    for task in done.tasks:
        view = ctx.engine.get_task(actor, task).task
        rows.append(ReleasedRow(task, view.case_id, view.item_name))
    clerk = before.get(username)
    name = ctx.words.person_name(clerk.label) if clerk else ctx.words.tr("该人员", "the clerk")
    return _office_clerks_page(ctx, actor, released={"name": name, "rows": rows, "reason": reason})
