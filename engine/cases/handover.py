"""Handing claimed tasks over: reassign (转办), delegate (委托), release a clerk's tasks to the queue.

- A supervisor of a task's office (or above it), or an admin in scope, reassigns a claimed
  task to another active clerk of the same office (the task's department at its division),
  with a reason.
- The assignee delegates their claimed task to another active clerk of the office, with a
  note that the new assignee reads on the task page (``handover_note``).
- A clerk going on leave has every task they hold released to the office queue in one
  action: by themselves, or by a supervisor of their office for them.

Each change locks the case row first (the lock a decision takes, so a task is never decided
by its old assignee after it was handed over) and then is one conditional
``UPDATE ... RETURNING`` on the assignee the caller expects: of two supervisors reassigning
the same task at once, exactly one wins and the other gets ``AssigneeChanged`` (409). Each
emits its event (``TaskReassigned``, ``TaskDelegated``, ``TaskReleased``): a line on the staff
trail that the applicant's timeline leaves out (``engine.cases.reading.STAFF_ONLY_KINDS``),
and a message to the new assignee (``engine.portal.notifications``).

May import: ``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from engine.cases.events import TaskDelegated, TaskReassigned, TaskReleased
from engine.cases.states import WorkItemState
from engine.cases.task_actions import NOT_YOUR_OFFICE, WORK_ITEMS, TaskActions
from engine.cases.views import WorkItemView
from engine.cases.visibility import may_see_task, may_supervise_task, may_work_task
from engine.errors import AssigneeChanged, InvalidInput, NotAllowed, NotFound, Problem, TaskNotReady
from engine.people.actors import Actor, Role
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Account, Case, CaseEvent, WorkItem, table_of
from engine.storage.spine import emit, write_pending

ACCOUNTS = table_of(Account)
REASON_MAX = 1000
# Hand a claimed task from the expected assignee to another: exactly one of racing callers wins.
_HAND_OVER = (
    update(WORK_ITEMS)
    .where(
        WORK_ITEMS.c.id == bindparam("task"),
        WORK_ITEMS.c.state == WorkItemState.CLAIMED,
        WORK_ITEMS.c.assignee == bindparam("expected"),
    )
    .values(assignee=bindparam("to"))  # claimed_at stays: the task's work began at the first claim
    .returning(*WORK_ITEMS.c)
)
_RELEASE = (
    update(WORK_ITEMS)
    .where(
        WORK_ITEMS.c.id == bindparam("task"),
        WORK_ITEMS.c.state == WorkItemState.CLAIMED,
        WORK_ITEMS.c.assignee == bindparam("expected"),
    )
    .values(state=WorkItemState.READY, assignee=None, claimed_at=None)
    .returning(WORK_ITEMS.c.id, WORK_ITEMS.c.case_id, WORK_ITEMS.c.item_key)
)


class ClerkNotFound(NotFound):
    """No such clerk among those the caller may act for."""


@dataclass(frozen=True)
class OfficeClerk:
    """An active clerk of an office, as a picker shows them: display name first."""

    username: str
    display_name: str
    supervisor: bool

    @property
    def label(self) -> str:
        """The name people know (the username when the account has no display name)."""
        return self.display_name or self.username


@dataclass(frozen=True)
class ClerkLoad:
    """A clerk of a supervisor's office and how many claimed tasks of that office they hold."""

    clerk: OfficeClerk
    open_tasks: int


@dataclass(frozen=True)
class HandoverNote:
    """Why the current assignee holds a task: who handed it over, when, and what they wrote."""

    kind: str  # "task_reassigned" or "task_delegated"
    by: str
    previous: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Released:
    """What releasing a clerk's tasks did: the clerk and the tasks put back in the queue."""

    clerk: str
    tasks: tuple[int, ...]

    @property
    def count(self) -> int:
        """How many tasks went back to the queue."""
        return len(self.tasks)


def _problem(where: str, zh: str, en: str, rule: str) -> InvalidInput:
    return InvalidInput(zh, [Problem(zh, where=where, rule=rule, message_en=en)])


def _text(value: str, where: str) -> str:
    """A reason or note: required, trimmed, bounded."""
    text = value.strip()
    if not text:
        raise _problem(where, "须填写说明", "a reason or note is required", "required")
    if len(text) > REASON_MAX:
        raise _problem(where, f"说明不超过 {REASON_MAX} 字", f"at most {REASON_MAX} characters", "max-length")
    return text


class Handover(TaskActions):
    """Reassigning, delegating and releasing claimed tasks."""

    def office_clerks(self, actor: Actor, work_item_id: int) -> list[OfficeClerk]:
        """The active clerks of the task's office, to pick whom to hand it to (any who may see the task)."""
        with self.db.read() as s:
            w = self._visible_item(s, actor, work_item_id)
            return self._clerks_of(s, w.department, w.division)

    def handover_note(self, actor: Actor, work_item_id: int) -> HandoverNote | None:
        """The latest reassignment or delegation that gave the task to its current assignee, if any."""
        with self.db.read() as s:
            w = self._visible_item(s, actor, work_item_id)
            if w.state != WorkItemState.CLAIMED or w.assignee is None:
                return None
            event = s.scalars(
                select(CaseEvent)
                .where(
                    CaseEvent.work_item_id == w.id,
                    CaseEvent.kind.in_((TaskReassigned.KIND, TaskDelegated.KIND, "claimed")),
                )
                .order_by(CaseEvent.id.desc())
                .limit(1)
            ).first()
        if event is None or event.kind == "claimed" or event.detail.get("to") != w.assignee:
            return None
        reassigned = event.kind == TaskReassigned.KIND
        return HandoverNote(
            kind=event.kind,
            by=event.actor,
            previous=str(event.detail.get("from", event.actor)) if reassigned else event.actor,
            text=str(event.detail.get("reason" if reassigned else "note", "")),
            at=event.at,
        )

    def reassign(
        self,
        actor: Actor,
        work_item_id: int,
        to: str,
        reason: str,
        *,
        expected: str,
        reservation: Reservation | None = None,
    ) -> WorkItemView:
        """转办: a supervisor of the office (or an admin in scope) hands a claimed task to another clerk.

        ``expected`` is the assignee the caller saw: when it changed meanwhile the call is
        refused with ``AssigneeChanged``, so of two supervisors who saw the same assignee and
        reassign at once exactly one wins (the other's request no longer means what it said).
        """

        def held_by(w: WorkItem) -> str:
            if w.state != WorkItemState.CLAIMED:
                raise TaskNotReady("只有已认领的任务可以转办 (only a claimed task is reassigned)")
            return expected

        return self._hand_task(
            actor,
            work_item_id,
            to,
            (reason, "reason"),
            may=lambda w: may_supervise_task(actor, w.department, w.division, self.regions),
            refused="只有本机构的督办人员或管理员可以转办 (only the office's supervisors reassign)",
            held_by=held_by,
            event=partial(TaskReassigned, previous=expected, to=to),
            reservation=reservation,
        )

    def delegate(
        self, actor: Actor, work_item_id: int, to: str, note: str, *, reservation: Reservation | None = None
    ) -> WorkItemView:
        """委托: the assignee hands their claimed task to another clerk of the office, with a note."""

        def held_by(w: WorkItem) -> str:
            if w.state != WorkItemState.CLAIMED or w.assignee != actor.username:
                raise TaskNotReady("只有认领人可以委托 (only the assignee delegates)")
            return actor.username

        return self._hand_task(
            actor,
            work_item_id,
            to,
            (note, "note"),
            may=lambda w: may_work_task(actor, w.department, w.division, self.regions),
            refused=NOT_YOUR_OFFICE,
            held_by=held_by,
            event=partial(TaskDelegated, to=to),
            reservation=reservation,
        )

    def release_tasks(self, actor: Actor, clerk: str, reason: str = "") -> Released:
        """Put every task ``clerk`` holds back in their office queues (a clerk on leave).

        The clerk themself, or a supervisor (or admin) of the clerk's office for them; each
        release is its own audit line, with ``reason`` when one is given (the supervisors'
        page asks for one). A task handed over or decided meanwhile is left alone.
        """
        now = self.clock.now()
        said = _text(reason, "reason") if reason.strip() else ""
        with self.db.write() as s:
            if clerk != actor.username:
                self._may_release_for(s, actor, clerk)
            held = s.execute(
                select(WorkItem.id, WorkItem.case_id, WorkItem.department, WorkItem.division)
                .where(WorkItem.assignee == clerk, WorkItem.state == WorkItemState.CLAIMED)
                .order_by(WorkItem.case_id, WorkItem.id)
            ).all()
            done: list[int] = []
            for row in held:
                if clerk != actor.username and not may_supervise_task(
                    actor, row.department, row.division, self.regions
                ):
                    continue  # a task of another office the clerk also works: not this supervisor's
                self._lock_case(s, row.case_id)
                released = s.execute(_RELEASE, {"task": row.id, "expected": clerk}).one_or_none()
                if released is None:
                    continue
                emit(
                    s,
                    TaskReleased(
                        case_id=released.case_id,
                        at=now,
                        actor=actor.username,
                        work_item_id=released.id,
                        item=released.item_key,
                        clerk=clerk,
                        reason=said,
                    ),
                )
                done.append(released.id)
            write_pending(s)
        return Released(clerk, tuple(done))

    def check_release_for(self, actor: Actor, clerk: str) -> None:
        """Refuse as ``release_tasks`` would for who may (404 unseen, 403 not supervised), releasing nothing.

        A page asks first, so that a form with its reason missing says nothing of a clerk the
        caller may not see.
        """
        if clerk != actor.username:
            with self.db.read() as s:
                self._may_release_for(s, actor, clerk)

    def clerks_to_release(self, actor: Actor) -> list[ClerkLoad]:
        """The other clerks whose tasks ``actor`` may release for them, each with how many they hold.

        A clerk is listed when ``actor`` supervises (or, an admin, is in scope of) one of the
        clerk's offices; the count is of the claimed tasks ``release_tasks`` would put back, so
        a task of another office the clerk also works is not counted. A clerk no longer active
        is listed only while they still hold some.
        """
        a = ACCOUNTS.c
        with self.db.read() as s:
            accounts = s.execute(
                select(a.username, a.display_name, a.supervisor, a.departments, a.division, a.active)
                .where(a.role == Role.CLERK.value, a.username != actor.username)
                .order_by(a.display_name, a.username)
            ).all()
            ours = [
                r
                for r in accounts
                if any(
                    may_supervise_task(actor, d, self.regions.own(r.division), self.regions)
                    for d in (r.departments or ())
                )
            ]
            held: dict[str, int] = {}
            if ours:
                counted = s.execute(
                    select(WorkItem.assignee, WorkItem.department, WorkItem.division, func.count())
                    .where(
                        WorkItem.state == WorkItemState.CLAIMED,
                        WorkItem.assignee.in_([r.username for r in ours]),
                    )
                    .group_by(WorkItem.assignee, WorkItem.department, WorkItem.division)
                ).all()
                for assignee, department, division, count in counted:
                    if assignee is not None and may_supervise_task(actor, department, division, self.regions):
                        held[assignee] = held.get(assignee, 0) + int(count)
        return [
            ClerkLoad(
                OfficeClerk(r.username, r.display_name or "", bool(r.supervisor)), held.get(r.username, 0)
            )
            for r in ours
            if r.active or held.get(r.username)
        ]

    # -- helpers ------------------------------------------------------------------------

    def _hand_task(
        self,
        actor: Actor,
        work_item_id: int,
        to: str,
        text: tuple[str, str],
        *,
        may: Callable[[WorkItem], bool],
        refused: str,
        held_by: Callable[[WorkItem], str],
        event: Callable[..., TaskReassigned | TaskDelegated],
        reservation: Reservation | None,
    ) -> WorkItemView:
        """The steps every hand-over takes, in this order, in one transaction.

        Who may (``may``, else ``NotAllowed(refused)``) before the text is checked, so a task
        one may not work says nothing more; then the case lock, then ``held_by`` says whom the
        task must still belong to (or refuses), the target is checked, the conditional update
        runs, and ``event`` goes on the trail: the event class with its own fields bound, given
        the task's and the checked text (``text`` is the value and its name: field and problem
        place alike, ``reason`` or ``note``).
        """
        value, name = text
        with self.db.write() as s:
            w = self._visible_item(s, actor, work_item_id)
            if not may(w):
                raise NotAllowed(refused)
            checked = _text(value, name)
            self._lock_case(s, w.case_id)
            current = held_by(w)
            self._check_target(s, w, to, current)
            won = self._hand_over(s, w.id, current, to)
            emit(
                s,
                event(
                    case_id=won.case_id,
                    at=self.clock.now(),
                    actor=actor.username,
                    work_item_id=won.id,
                    item=won.item_key,
                    **{name: checked},
                ),
            )
            record_outcome(s, reservation, outcome_ref("task", won.id))
            write_pending(s)
            return self._item_view(won, self.deployments.row(s, won.deployment_id))

    @staticmethod
    def _lock_case(s: Session, case_id: int) -> None:
        """The case row's lock, the one every decision takes first (lock order: case, then task rows)."""
        s.execute(select(Case.id).where(Case.id == case_id).with_for_update(key_share=True)).one()

    @staticmethod
    def _hand_over(s: Session, task: int, expected: str, to: str) -> WorkItem:
        """The conditional update; ``AssigneeChanged`` when the task is no longer ``expected``'s."""
        won = s.execute(_HAND_OVER, {"task": task, "expected": expected, "to": to}).one_or_none()
        if won is None:
            raise AssigneeChanged(
                "任务的认领人已变更，请刷新后重试 (the task's assignee changed meanwhile; reload)"
            )
        row = s.get(WorkItem, task, populate_existing=True)
        assert row is not None  # just updated in this transaction
        return row

    def _office_match(self, division: str) -> ColumnElement[bool]:
        """Accounts sitting at ``division`` (an account without a division sits at the default one)."""
        at = ACCOUNTS.c.division == division
        return or_(at, ACCOUNTS.c.division.is_(None)) if division == self.regions.own(None) else at

    def _clerks_of(self, s: Session, department: str, division: str) -> list[OfficeClerk]:
        a = ACCOUNTS.c
        rows = s.execute(
            select(a.username, a.display_name, a.supervisor, a.departments)
            .where(a.role == Role.CLERK.value, a.active.is_(True), self._office_match(division))
            .order_by(a.display_name, a.username)
        ).all()
        return [
            OfficeClerk(r.username, r.display_name or "", bool(r.supervisor))
            for r in rows
            if department in (r.departments or ())
        ]

    def _check_target(self, s: Session, w: WorkItem, to: str, current: str) -> None:
        """``to`` must be another active clerk of the task's office."""
        if to == current:
            raise _problem("to", "已由该人员办理", "the task is already theirs", "same-assignee")
        if to not in {c.username for c in self._clerks_of(s, w.department, w.division)}:
            raise _problem(
                "to",
                "只能交给本办理机构在岗的窗口人员",
                "only an active clerk of the task's office can take it",
                "office-clerk",
            )

    def _may_release_for(self, s: Session, actor: Actor, clerk: str) -> None:
        """A supervisor (or admin) may release the tasks of a clerk of an office they supervise."""
        a = ACCOUNTS.c
        found = s.execute(
            select(a.departments, a.division).where(a.username == clerk, a.role == Role.CLERK.value)
        ).one_or_none()
        if found is None:
            raise ClerkNotFound(f"没有这个窗口人员 (no clerk {clerk})")
        office = self.regions.own(found.division)
        seen = [d for d in (found.departments or ()) if may_see_task(actor, d, office, self.regions)]
        if not seen:
            raise ClerkNotFound(f"没有这个窗口人员 (no clerk {clerk})")
        if not any(may_supervise_task(actor, d, office, self.regions) for d in seen):
            raise NotAllowed(
                "只有本机构的督办人员可以替他人释放任务 (only a supervisor releases others' tasks)"
            )
