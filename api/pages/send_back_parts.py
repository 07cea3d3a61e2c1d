"""What the task and case pages show of send-backs (退回到指定环节) and moves, for their partials.

``task_part``: the earlier steps the viewer may send the task's case back to (only to its
assignee and supervisors of its office, while it is open) and the item's earlier decisions
(a reopened step shows what its department decided before). ``case_part``: the case's
send-back and move history as staff read it (with the reason), and the steps a supervisor
or admin may move a running case to. The engine decides who may; these only ask.
"""

from __future__ import annotations

from typing import Any

from api.pages.base import PageContext
from engine.cases.send_back import StepTarget
from engine.cases.states import OPEN_WORK_STATES, CaseStatus
from engine.cases.views import CaseView, TaskDetail
from engine.errors import NotAllowed
from engine.people.actors import Role

HISTORY_KINDS = ("sent_back", "case_moved")


def task_part(ctx: PageContext, detail: TaskDetail) -> dict[str, Any]:
    """The task page's send-back part: its targets for who may send back, and earlier decisions."""
    actor = ctx.actor
    task = detail.task
    earlier = ctx.engine.earlier_decisions(actor, task.id)
    targets: list[StepTarget] = []
    may = (
        actor.role is Role.CLERK
        and task.state in OPEN_WORK_STATES
        and detail.case_status == CaseStatus.RUNNING
        and (actor.supervisor or task.assignee == actor.username)
    )
    if may:
        targets = ctx.engine.send_back_targets(actor, task.id)
    return {"earlier": earlier, "targets": targets}


def case_part(ctx: PageContext, case: CaseView) -> dict[str, Any]:
    """The case page's part: the send-back and move history (staff) and the move form's steps."""
    actor = ctx.actor
    if actor.role is Role.APPLICANT:
        return {"history": [], "targets": [], "may_move": False}
    history = [e for e in case.timeline if e.kind in HISTORY_KINDS][::-1]
    may_move = case.status == CaseStatus.RUNNING and (
        actor.role is Role.ADMIN or (actor.role is Role.CLERK and actor.supervisor)
    )
    targets: list[StepTarget] = []
    if may_move:
        try:
            targets = ctx.engine.move_targets(actor, case.id)
        except NotAllowed:
            targets = []
    return {"history": history, "targets": targets, "may_move": bool(targets)}
