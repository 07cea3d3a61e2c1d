"""Sending a case back to an earlier department step (退回到指定环节), and a supervisor's move.

A clerk working a task (its assignee, in its office) or a supervisor of the task's office
sends the case back from that task to an earlier step with a reason: the step's department
gets a new task in its queue, with its earlier decision shown beside it
(``earlier_decisions``), and what followed the step on the path to this task is dropped and
runs again as the diagram says (``engine.bpmn.rewind``): parallel branches split after the
step are redone; branches split before it keep their state. The choice is what the diagram
allows: the completed user tasks the current task came from (``send_back_targets``).

A supervisor (or an admin in scope) may also move a case to any such earlier step of any of
its open tasks (the escape hatch, ``move_case``). Moving forward is not offered: a skipped
step's decision (a licence number, a branch's condition) would be missing, so no forward
move is sound in general.

Each runs in the case's transaction on the locked case and emits ``SentBack`` or
``CaseMoved`` (with the elements waited at before and after) and ``StepReopened`` (on the
reopened decision's task); the applicant's timeline says which department handed the case
to which (``engine.cases.reading``). A send-back racing a decision on the same task: the
case lock orders them and the second finds the task no longer open (409).

May import: ``engine.cases``, ``engine.bpmn``, ``engine.people``, ``engine.regions``,
``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.rewind import EarlierTask, earlier_tasks, rewind, still_ready
from engine.bpmn.runtime import Runner, TaskKind
from engine.cases.core import CaseCore
from engine.cases.events import CaseMoved, SentBack, StepReopened
from engine.cases.states import OPEN_WORK_STATES, CaseStatus, Outcome, WorkItemState
from engine.cases.store import OpenCase
from engine.cases.task_events import task_event_fields
from engine.cases.views import Label, WorkItemView
from engine.cases.visibility import may_see_task, may_supervise_task, may_work_task
from engine.errors import (
    CaseNotFound,
    CaseNotWaiting,
    InvalidInput,
    NotAllowed,
    Problem,
    TaskNotReady,
    WorkItemNotFound,
)
from engine.people.actors import Actor, Role
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Case, Deployment, WorkItem
from engine.storage.spine import emit

REASON_MAX = 2000


@dataclass(frozen=True)
class StepTarget:
    """An earlier step a case may go back to: its item, department, element and last decision."""

    item: str
    item_name: Label
    department: str
    element_id: str
    work_item_id: int
    outcome: str | None
    decision: dict[str, object]
    comment: str


@dataclass(frozen=True)
class EarlierDecision:
    """A decision made before on the same item of the case: what a reopened step's department sees."""

    work_item_id: int
    outcome: str | None
    decision: dict[str, object]
    comment: str
    completed_at: datetime | None


def _reason(reason: str) -> str:
    """The mandatory reason, trimmed (422 when empty or too long)."""
    text = reason.strip()
    if not text or len(text) > REASON_MAX:
        raise InvalidInput(
            "须填写退回原因",
            [
                Problem(
                    f"须填写原因（不超过 {REASON_MAX} 字）",
                    where="reason",
                    rule="reason",
                    message_en=f"a reason is required (at most {REASON_MAX} characters)",
                )
            ],
        )
    return text


def _bad_target(target: str) -> InvalidInput:
    return InvalidInput(
        "不能退回到这个环节",
        [
            Problem(
                f"{target} 不是本办件此前已办结的环节",
                where="target",
                rule="earlier-step",
                message_en=f"{target} is not an earlier completed step of this case",
            )
        ],
    )


class SendingBack(CaseCore):
    """Send-back to an earlier department step and a supervisor's move (see the module docstring)."""

    # -- reading -------------------------------------------------------------------------

    def send_back_targets(self, actor: Actor, work_item_id: int) -> list[StepTarget]:
        """The earlier department steps the task's case may be sent back to, nearest first."""
        with self.db.read() as s:
            w = self._visible_item(s, actor, work_item_id)
            if w.state not in OPEN_WORK_STATES:
                return []
            case = s.get(Case, w.case_id)
            if case is None:  # pragma: no cover - a task row always has its case
                raise CaseNotFound(f"没有这个办件 (no case {w.case_id})")
            rows = list(s.scalars(select(WorkItem).where(WorkItem.case_id == w.case_id)))
            deployment = self.deployments.row(s, case.deployment_id)
            workflow = self._workflow(case, deployment)
        return self._targets(deployment, rows, earlier_tasks(workflow, w.spiff_id), human_only=True)

    def earlier_decisions(self, actor: Actor, work_item_id: int) -> list[EarlierDecision]:
        """The earlier decided tasks of the same item of the task's case (a reopened step's history)."""
        with self.db.read() as s:
            w = self._visible_item(s, actor, work_item_id)
            earlier = s.scalars(
                select(WorkItem)
                .where(
                    WorkItem.case_id == w.case_id,
                    WorkItem.item_key == w.item_key,
                    WorkItem.id < w.id,
                    WorkItem.state == WorkItemState.COMPLETED,
                )
                .order_by(WorkItem.id.desc())
            ).all()
            return [
                EarlierDecision(r.id, r.outcome, dict(r.decision), r.comment, r.completed_at) for r in earlier
            ]

    def reopened_task(self, actor: Actor, work_item_id: int) -> WorkItemView:
        """A task of a case the actor may see, without what its clerk wrote: the answer of a send-back.

        The sender may not see the other department's reopened task itself, but follows its case.
        """
        with self.db.read() as s:
            w = s.get(WorkItem, work_item_id)
            if w is None:
                raise WorkItemNotFound(f"没有这个任务 (no task {work_item_id})")
            self._visible_case(s, actor, w.case_id)
            return self._item_view(w, self.deployments.row(s, w.deployment_id), private=True)

    def move_targets(self, actor: Actor, case_id: int) -> list[StepTarget]:
        """The earlier steps a supervisor may move the case to: those of any of its open tasks."""
        _require_supervisor(actor)
        with self.db.read() as s:
            case = self._visible_case(s, actor, case_id)
            rows = list(s.scalars(select(WorkItem).where(WorkItem.case_id == case.id)))
            deployment = self.deployments.row(s, case.deployment_id)
            workflow = self._workflow(case, deployment)
        found: list[EarlierTask] = []
        for row in rows:
            if row.state in OPEN_WORK_STATES:
                found.extend(t for t in earlier_tasks(workflow, row.spiff_id) if t not in found)
        return self._targets(deployment, rows, found, human_only=False)

    # -- changing --------------------------------------------------------------------------

    def send_back(
        self,
        actor: Actor,
        work_item_id: int,
        target: str,
        reason: str,
        *,
        reservation: Reservation | None = None,
    ) -> WorkItemView:
        """Send the case back from a task to an earlier department step; the step's new task's view.

        Who: the task's assignee (a clerk of its office) or a supervisor of its office.
        ``target`` is the step's item key or BPMN element id. 404 for a task the actor may
        not see, 403 for one they may not send back, 409 when the task is no longer open
        (decided, cancelled) or the case waits for the applicant, 422 for an empty reason or
        a step that is not an earlier completed one of this task's path.
        """
        text = _reason(reason)

        def locate(session: Session) -> int:
            w = self._visible_item(session, actor, work_item_id)
            if not self._may_send_back(actor, w):
                raise NotAllowed("只有办理人或本机构的督办人员可以退回 (only its assignee or a supervisor)")
            return w.case_id

        def change(oc: OpenCase) -> WorkItemView:
            item = oc.row(work_item_id)
            if item is None or item.state not in OPEN_WORK_STATES:
                raise TaskNotReady("任务已办结或已取消 (the task is no longer open)")
            if not actor.supervisor and (
                item.state != WorkItemState.CLAIMED or item.assignee != actor.username
            ):
                raise TaskNotReady("请先认领任务 (claim the task first)")
            self._require_running(oc)
            step, decided = self._choose(
                oc, earlier_tasks(oc.workflow, item.spiff_id), target, human_only=True
            )
            item.comment = text
            emit(
                oc.session,
                SentBack(
                    **task_event_fields(oc, item, actor.username),
                    to_item=decided.item_key,
                    to_department=decided.department,
                    between_departments=decided.department != item.department,
                    reason=text,
                ),
            )
            reopened = self._reopen(oc, step, decided, from_department=item.department, actor=actor)
            record_outcome(oc.session, reservation, outcome_ref("task", reopened.id))
            return self._item_view(reopened, oc.deployment)

        return self._mutate(locate, change)

    def move_case(
        self,
        actor: Actor,
        case_id: int,
        target: str,
        reason: str,
        *,
        reservation: Reservation | None = None,
    ) -> WorkItemView:
        """Move a running case to an earlier step of any of its open tasks (supervisors, admins).

        Who: a supervisor of the office of one of the case's open tasks, or an admin in
        scope. ``target`` is the step's item key or BPMN element id; audited with the
        elements waited at before and after. 404 for a case the actor may not see, 403 for
        a role that may not move it, 409 when it is not running, 422 for an empty reason
        or a step that is not an earlier completed one.
        """
        _require_supervisor(actor)  # a role that may never: 403 whatever the body
        text = _reason(reason)

        def locate(session: Session) -> int:
            return self._visible_case(session, actor, case_id).id

        def change(oc: OpenCase) -> WorkItemView:
            self._require_running(oc)
            open_rows = [r for r in oc.rows if r.state in OPEN_WORK_STATES]
            if not any(may_supervise_task(actor, r.department, r.division, self.regions) for r in open_rows):
                raise NotAllowed("您不督办这个办件的在办环节 (you supervise none of its open steps)")
            found: list[EarlierTask] = []
            for row in open_rows:
                found.extend(t for t in earlier_tasks(oc.workflow, row.spiff_id) if t not in found)
            step, decided = self._choose(oc, found, target, human_only=False)
            before = _waiting(oc)
            reopened = self._reopen(oc, step, decided, from_department=None, actor=actor)
            emit(
                oc.session,
                CaseMoved(
                    case_id=oc.case.id,
                    at=oc.now,
                    actor=actor.username,
                    work_item_id=reopened.id,
                    to_item=decided.item_key,
                    to_department=decided.department,
                    before=before,
                    after=_waiting(oc),
                    reason=text,
                ),
            )
            record_outcome(oc.session, reservation, outcome_ref("task", reopened.id))
            return self._item_view(reopened, oc.deployment)

        return self._mutate(locate, change)

    # -- helpers -----------------------------------------------------------------------------

    def _workflow(self, case: Case, deployment: Deployment) -> BpmnWorkflow:
        """The case's workflow as stored, for reading only (never cached or saved)."""
        definition = self.deployments.definition(deployment)
        return self.store.codec.loads(case.state, definition.spec, definition.subprocess_specs)

    def _may_send_back(self, actor: Actor, w: WorkItem) -> bool:
        """The task's office's clerks (the assignee, checked on the locked row) or its supervisors."""
        if not may_see_task(actor, w.department, w.division, self.regions):
            return False
        if actor.role is not Role.CLERK:
            return False
        if actor.supervisor and may_supervise_task(actor, w.department, w.division, self.regions):
            return True
        return may_work_task(actor, w.department, w.division, self.regions)

    @staticmethod
    def _require_running(oc: OpenCase) -> None:
        if oc.case.status != CaseStatus.RUNNING:
            raise CaseNotWaiting(
                f"办件当前为 {oc.case.status}，不能退回或调整 (the case is {oc.case.status})"
            )

    def _targets(
        self, deployment: Deployment, rows: list[WorkItem], steps: list[EarlierTask], *, human_only: bool
    ) -> list[StepTarget]:
        manifest = self.deployments.definition(deployment).manifest
        out: list[StepTarget] = []
        for step in steps:
            if human_only and step.kind != TaskKind.HUMAN:
                continue
            decided = _decided_row(rows, step)
            if decided is None:
                continue
            try:
                name = manifest.item(decided.item_key).name
                label = Label(name.zh, name.en)
            except KeyError:
                label = Label(decided.item_key, decided.item_key)
            out.append(
                StepTarget(
                    item=decided.item_key,
                    item_name=label,
                    department=decided.department,
                    element_id=step.element_id,
                    work_item_id=decided.id,
                    outcome=decided.outcome,
                    decision=dict(decided.decision),
                    comment=decided.comment,
                )
            )
        return out

    @staticmethod
    def _choose(
        oc: OpenCase, steps: list[EarlierTask], target: str, *, human_only: bool
    ) -> tuple[EarlierTask, WorkItem]:
        """The nearest earlier step named ``target`` (item key or element id) with its decided row."""
        for step in steps:
            if human_only and step.kind != TaskKind.HUMAN:
                continue
            decided = _decided_row(oc.rows, step)
            if decided is not None and target in (decided.item_key, step.element_id):
                return step, decided
        raise _bad_target(target)

    def _reopen(
        self,
        oc: OpenCase,
        step: EarlierTask,
        decided: WorkItem,
        *,
        from_department: str | None,
        actor: Actor,
    ) -> WorkItem:
        """Rewind the workflow to ``step``, sync the rows (what vanished cancels), the reopened task's row."""
        rewind(self.runner, oc.workflow, step.spiff_id)
        # A return to the applicant this round waits in the workflow for the round's one
        # notice; dropping its task would leave a notice for a step that no longer waits.
        held = [
            r
            for r in oc.rows
            if r.round == oc.case.round
            and r.outcome == Outcome.RETURN
            and not still_ready(oc.workflow, r.spiff_id)
        ]
        if held:
            raise CaseNotWaiting(
                "本轮已有退回补正待告知申请人，请在申请人补正后再退回 "
                "(a return to the applicant is pending in this round: send back after the supplement)"
            )
        emit(
            oc.session,
            StepReopened(
                case_id=oc.case.id,
                at=oc.now,
                actor=actor.username,
                work_item_id=decided.id,
                item=decided.item_key,
                department=decided.department,
                from_department=from_department,
            ),
        )
        self.store.sync_work_items(oc)
        oc.session.flush()  # the reopened task's row gets its id and defaults (``save`` announces it)
        reopened = next(
            (r for r in oc.rows if r.spiff_id == step.spiff_id and r.state in OPEN_WORK_STATES), None
        )
        if reopened is None:  # pragma: no cover - a rewound user task is always ready again
            raise TaskNotReady("环节未能重新开启 (the step did not reopen)")
        return reopened


def _require_supervisor(actor: Actor) -> None:
    """Moves are for supervisors (clerks with ``supervisor``) and admins: any other role never (403)."""
    if actor.role is not Role.ADMIN and not (actor.role is Role.CLERK and actor.supervisor):
        raise NotAllowed("只有督办人员或管理员可以调整办件环节 (supervisors and admins only)")


def _decided_row(rows: list[WorkItem], step: EarlierTask) -> WorkItem | None:
    """The latest approved task row of an earlier step (a row per time it was done)."""
    matches = [
        r
        for r in rows
        if r.spiff_id == step.spiff_id and r.state == WorkItemState.COMPLETED and r.outcome == Outcome.APPROVE
    ]
    return max(matches, key=lambda r: r.id) if matches else None


def _waiting(oc: OpenCase) -> list[str]:
    """The BPMN elements the case waits at: its open tasks' elements, then joins and events."""
    tasks = sorted({r.task_name for r in oc.rows if r.state in OPEN_WORK_STATES})
    return [*tasks, *(e for e in Runner.waiting_at(oc.workflow) if e not in tasks)]
