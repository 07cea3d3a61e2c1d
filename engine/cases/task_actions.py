"""What a clerk does with a task: claim it, put it back, decide it (approve or return).

Only the clerks of the task's own office (its department at its division) work it
(``may_work_task``): a supervisor above reads it and is refused, anyone else does not find it.

A claim is one conditional ``UPDATE ... RETURNING`` (on SQLite, the update and a read of the
row it claimed; exactly one of many concurrent claimers wins; a department system's external
task is never claimed) and its audit line, with no ORM unit of work: it is half of every task
action. A decision runs in the case's transaction with the case row locked: the task row gets
its outcome, the event that says so (``TaskApproved``/``TaskReturned``) is emitted at once
(analytics counts the completion there, in the same transaction), the workflow runs on, and
an approved item issues its electronic certificates (电子证照) to the case. A department
system's completion of an external task takes the same approval path
(``engine.cases.external``).

May import: ``engine.cases``, ``engine.bpmn``, ``engine.people``, ``engine.regions``,
``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import Session

from engine.bpmn.manifest import outcome_key
from engine.bpmn.runtime import TaskKind
from engine.cases.applying import Applying
from engine.cases.core import problems_from_form, with_decisions
from engine.cases.events import CertificateIssued, TaskApproved, TaskClaimed, TaskReturned, TaskUnclaimed
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.cases.store import OpenCase
from engine.cases.superseding import replaced_certificate, supersede
from engine.cases.suspension_guard import refuse_if_suspended
from engine.cases.views import WorkItemView
from engine.cases.visibility import may_see_task, may_work_task
from engine.errors import AlreadyClaimed, InvalidInput, NotAllowed, Problem, TaskNotReady, WorkItemNotFound
from engine.people.actors import Actor, Role
from engine.storage.case_facts import CaseFacts
from engine.storage.case_facts import note as note_case
from engine.storage.db import rowcount
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Case, WorkItem, table_of
from engine.storage.prepared import Prepared
from engine.storage.spine import emit, write_pending

WORK_ITEMS = table_of(WorkItem)
CASES = table_of(Case)
NOT_YOUR_OFFICE = "只有本办理机构的窗口人员可以办理 (only the clerks of the task's own office work it)"


_CASE_COLUMNS = ("code", "bundle_key", "version", "deployment_id")


def _case_columns(*names: str) -> list[Any]:
    """The claimed task's case columns, returned with it as ``case_<name>`` by ``UPDATE ... RETURNING``.

    What follows the claim names the case by them (``engine.storage.case_facts``): returned
    with the task, the case row is read once by the claim, not again by the outbox at its commit.
    """
    of_task = CASES.c.id == WORK_ITEMS.c.case_id
    return [select(CASES.c[name]).where(of_task).scalar_subquery().label(f"case_{name}") for name in names]


# Built once and run on the driver (``Prepared``): they are half of every task action's statements.
_CLAIMABLE = (
    WORK_ITEMS.c.id == bindparam("task"),
    WORK_ITEMS.c.state == WorkItemState.READY,
    WORK_ITEMS.c.kind == TaskKind.HUMAN.value,
    WORK_ITEMS.c.department.in_(bindparam("departments", expanding=True)),
    WORK_ITEMS.c.division == bindparam("office_division"),
    # A suspended case's tasks are not claimed (挂起: nothing moves it until the resume).
    ~exists().where(CASES.c.id == WORK_ITEMS.c.case_id, CASES.c.status == CaseStatus.SUSPENDED.value),
)
_CLAIM_UPDATE = (
    update(WORK_ITEMS)
    .where(*_CLAIMABLE)
    .values(state=WorkItemState.CLAIMED, assignee=bindparam("clerk"), claimed_at=bindparam("now"))
)
_CLAIM = Prepared(_CLAIM_UPDATE.returning(*WORK_ITEMS.c, *_case_columns(*_CASE_COLUMNS)))
# SQLite runs that UPDATE with its RETURNING at about twice the cost of the UPDATE alone and a
# read of the row by its key (279 against 124 µs, the claim having been a case's costliest
# statement); inside SQLite's write transaction (``BEGIN IMMEDIATE``) nothing changes the row
# between the two. PostgreSQL answers the one statement in one round trip.
_CLAIM_ALONE = Prepared(_CLAIM_UPDATE)
_CLAIMED = Prepared(
    select(*WORK_ITEMS.c, *(CASES.c[name].label(f"case_{name}") for name in _CASE_COLUMNS))
    .join_from(WORK_ITEMS, CASES, CASES.c.id == WORK_ITEMS.c.case_id)
    .where(WORK_ITEMS.c.id == bindparam("task"))
)
# Which case and office a task is of, and its kind: where a task action (a clerk's or a
# department system's) starts, before the case is locked.
TASK_OFFICE = Prepared(
    select(WORK_ITEMS.c.case_id, WORK_ITEMS.c.department, WORK_ITEMS.c.division, WORK_ITEMS.c.kind).where(
        WORK_ITEMS.c.id == bindparam("task")
    )
)


class TaskActions(Applying):
    """Claiming, unclaiming and deciding tasks."""

    def claim(self, actor: Actor, work_item_id: int) -> WorkItemView:
        """Take a task from the queue; exactly one of many concurrent claimers wins.

        The claim is one conditional ``UPDATE ... RETURNING`` (on SQLite, the update and a read by
        key: ``_claimed``) and one audit ``INSERT`` on the tables (no ORM unit of work): it is half
        of every task action. The claimed task comes with its case's code, bundle and version,
        which the outbox names the event by, so the case row is read once. Only a claim that did
        not win reads the row, to say why.
        """
        if actor.role is not Role.CLERK:
            with self.db.read() as s:
                self._visible_item(s, actor, work_item_id)  # who may not see it learns nothing
            raise NotAllowed("只有窗口人员可以认领 (only clerks claim)")
        now = self.clock.now()
        with self.db.write() as s:
            won = self._claimed(
                s,
                {
                    "task": work_item_id,
                    "departments": sorted(actor.departments),
                    "office_division": self.regions.own(actor.division),
                    "clerk": actor.username,
                    "now": now,
                },
            )
            if won is None:
                w = self._workable_item(s, actor, work_item_id)
                case = s.get(Case, w.case_id)
                if case is not None and w.state == WorkItemState.READY:
                    refuse_if_suspended(case)
                if w.kind != TaskKind.HUMAN:
                    raise TaskNotReady("部门系统办理中的任务不能认领 (a department system does this task)")
                if w.state != WorkItemState.CLAIMED:
                    raise TaskNotReady(f"任务已{w.state} (task is {w.state})")
                if w.assignee != actor.username:
                    raise AlreadyClaimed(f"任务已被 {w.assignee} 认领 (claimed by someone else)")
                return self._item_view(w, self.deployments.row(s, w.deployment_id))  # already theirs
            note_case(
                s,
                CaseFacts(
                    won.case_id, won.case_code, won.case_bundle_key, won.case_version, won.case_deployment_id
                ),
            )
            emit(
                s,
                TaskClaimed(
                    case_id=won.case_id,
                    at=now,
                    actor=actor.username,
                    work_item_id=won.id,
                    item=won.item_key,
                    department=won.department,
                ),
            )
            write_pending(s)
            return self._item_view(won, self.deployments.row(s, won.deployment_id))

    def _claimed(self, session: Session, params: dict[str, Any]) -> Any:
        """The task row claimed with its case's columns (``case_<name>``), or None if the claim lost."""
        if not self.db.is_sqlite:
            return _CLAIM.one_or_none(session, params)
        if _CLAIM_ALONE.count(session, params) == 0:
            return None
        return _CLAIMED.one(session, {"task": params["task"]})

    def unclaim(
        self, actor: Actor, work_item_id: int, reservation: Reservation | None = None
    ) -> WorkItemView:
        """Put a claimed task back in the queue (only its assignee).

        ``reservation`` (an ``Idempotency-Key``'s) learns the task in the same transaction.
        """
        with self.db.write() as s:
            w = self._workable_item(s, actor, work_item_id)
            now = self.clock.now()
            released = rowcount(
                s.execute(
                    update(WorkItem)
                    .where(
                        WorkItem.id == work_item_id,
                        WorkItem.state == WorkItemState.CLAIMED,
                        WorkItem.assignee == actor.username,
                    )
                    .values(state=WorkItemState.READY, assignee=None, claimed_at=None)
                    .execution_options(synchronize_session=False)
                )
            )
            if not released:
                raise TaskNotReady("只有认领人可以退回队列 (only the assignee can unclaim)")
            record_outcome(s, reservation, outcome_ref("task", w.id))
            s.refresh(w)  # the row as released, for the view and for the event's subscribers
            emit(
                s,
                TaskUnclaimed(
                    case_id=w.case_id, at=now, actor=actor.username, work_item_id=w.id, item=w.item_key
                ),
            )
            write_pending(s)
            return self._item_view(w, self.deployments.row(s, w.deployment_id))

    def complete(
        self,
        actor: Actor,
        work_item_id: int,
        outcome: Outcome | str,
        data: Mapping[str, Any],
        comment: str = "",
        problems: list[dict[str, Any]] | None = None,
        *,
        reservation: Reservation | None = None,
    ) -> WorkItemView:
        """Decide a task: approve (the workflow runs on) or return (gathered into one notice).

        ``reservation`` (an ``Idempotency-Key``'s) learns the decision in the same transaction.
        """
        outcome = Outcome(outcome)
        problems = list(problems or [])
        if outcome is Outcome.RETURN and not problems and not comment.strip():
            raise InvalidInput(
                "退回须说明原因",
                [
                    Problem(
                        "退回时须列出问题或填写说明",
                        where="problems",
                        rule="return-reason",
                        message_en="a return needs problems or a comment",
                    )
                ],
            )

        def locate(session: Session) -> int:
            found = TASK_OFFICE.one_or_none(session, {"task": work_item_id})
            if found is None or not may_see_task(actor, found.department, found.division, self.regions):
                raise WorkItemNotFound(f"没有这个任务 (no task {work_item_id})")
            if not may_work_task(actor, found.department, found.division, self.regions):
                raise NotAllowed(NOT_YOUR_OFFICE)
            return int(found.case_id)

        def change(oc: OpenCase) -> WorkItemView:
            # The case row is locked now and its task rows were read after the lock, so a
            # decision made before the lock was taken is seen.
            item = oc.row(work_item_id)
            if item is None:
                raise WorkItemNotFound(f"没有这个任务 (no task {work_item_id})")
            refuse_if_suspended(oc.case)
            if item.state != WorkItemState.CLAIMED or item.assignee != actor.username:
                raise TaskNotReady("任务未由您认领或已办结 (not claimed by you, or already done)")
            if outcome is Outcome.APPROVE:
                decision = self._checked_decision(oc, item, data)
                self._approve(oc, item, actor.username, decision, comment, problems=problems)
            else:
                item.state = WorkItemState.COMPLETED
                item.outcome = outcome
                item.completed_at = oc.now
                item.comment = comment
                item.problems = problems
                emit(
                    oc.session,
                    TaskReturned(
                        case_id=oc.case.id,
                        at=oc.now,
                        actor=actor.username,
                        work_item_id=item.id,
                        item=item.item_key,
                        comment=comment,
                        problems=problems,
                    ),
                )
            self._after_progress(oc, actor.username)
            record_outcome(oc.session, reservation, outcome_ref("task", item.id))
            return self._item_view(item, oc.deployment)

        return self._mutate(locate, change)

    def _workable_item(self, s: Session, actor: Actor, work_item_id: int) -> WorkItem:
        """A task the actor may see (else ``WorkItemNotFound``) and work (else ``NotAllowed``).

        A supervisor reads the tasks of the offices below theirs but works only their own's.
        """
        w = self._visible_item(s, actor, work_item_id)
        if not may_work_task(actor, w.department, w.division, self.regions):
            raise NotAllowed(NOT_YOUR_OFFICE)
        return w

    def _checked_decision(self, oc: OpenCase, item: WorkItem, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` checked as the item's decision (every problem at once); its decision fields."""
        form = self.deployments.form(oc.deployment)
        names = form.decision_fields(item.item_key)
        # A decision field's condition may name any answer of the case, or an earlier decision;
        # with no condition among the item's fields nothing reads them (nor the finished rows).
        case_data: dict[str, Any] = {}
        if any(form.conditions.get(name) for name in names):
            approved = [r for r in oc.rows if r.outcome == Outcome.APPROVE]
            case_data = with_decisions(oc.case.data, approved)
        found = problems_from_form(form.validate_decision(item.item_key, data, case_data))
        if found:
            raise InvalidInput(f"办理结果有 {len(found)} 处问题", found)
        return {k: v for k, v in data.items() if k in names}

    def _approve(
        self,
        oc: OpenCase,
        item: WorkItem,
        actor: str,
        decision: dict[str, Any],
        comment: str = "",
        variables: Mapping[str, Any] | None = None,
        problems: list[dict[str, Any]] | None = None,
    ) -> None:
        """Approve a task and run the workflow on: a clerk's approval, or a department system's completion.

        ``variables`` (a system's, Camunda's process variables) go to the workflow besides the
        decision; a clerk's workflow gets the decision alone.
        """
        item.state = WorkItemState.COMPLETED
        item.outcome = Outcome.APPROVE
        item.completed_at = oc.now
        item.comment = comment
        item.problems = list(problems or [])
        item.decision = decision
        # The event follows the outcome at once: its subscribers (analytics counts the
        # completion) see the row decided, before the workflow runs on.
        emit(
            oc.session,
            TaskApproved(
                case_id=oc.case.id,
                at=oc.now,
                actor=actor,
                work_item_id=item.id,
                item=item.item_key,
                comment=comment,
            ),
        )
        updates = {**(variables or {}), **decision, outcome_key(item.item_key): "approve"}
        self.runner.complete(oc.workflow, item.spiff_id, updates)
        self._issue_outputs(oc, item, decision)

    def _issue_outputs(self, oc: OpenCase, item: WorkItem, decision: Mapping[str, Any]) -> None:
        """Issue the item's electronic certificates (电子证照) as materials of the case."""
        manifest_item = oc.definition.manifest.item(item.item_key)
        if not manifest_item.outputs:
            return
        content = {**oc.case.data, **self.runner.data(oc.workflow), **decision}
        outputs = dict(oc.case.outputs)
        for kind in manifest_item.outputs:
            # A step decided again after a send-back replaces the certificate it issued before.
            earlier = replaced_certificate(oc, item, kind)
            info = self.materials.issue_certificate(
                oc.session, oc.case.id, oc.case.applicant, kind, content, replacing=earlier is not None
            )
            outputs[kind] = info.id
            emit(
                oc.session,
                CertificateIssued(
                    case_id=oc.case.id, at=oc.now, kind=kind, material_id=info.id, item=item.item_key
                ),
            )
            if earlier is not None:
                supersede(oc, self.materials, earlier, info, item)
        oc.case.outputs = outputs
        oc.case.materials = {**oc.case.materials, **outputs}
