"""Items a department's own system finishes by a message: task rows for bound receive tasks.

An item with ``handled_by: system`` whose task is a ``bpmn:receiveTask`` (the hospital's
system issuing the 出生医学证明, say) is a department step like any other: while the
workflow waits at the receive task, the case has a task row of ``kind`` "message" in that
department, with ``topic`` holding the message name and a due time from the item's time
limit, routed to the item's office like a clerk's task (``route``, the store's router), so
the applicant, the department's supervisor, the SLA clock and analytics see it as
they see a clerk's task. Nobody claims it (the queues and claims take human rows only).

When the message is correlated to the case (``POST /engine-rest/message``), the row is
completed as an approval by the system account that sent it: the decision is the message's
variables that the item names as ``decision_fields``, ``TaskApproved`` is emitted and the
item's outputs (电子证照) are issued by the same code as a clerk's approval.

``sync_message_items`` is called by ``CaseStore.sync_work_items`` on every save;
``complete_message_items`` by the message correlation, inside the locked case transaction,
after the workflow caught the message and before the case is saved.

The store imports this module, so it sees the locked case through ``LockedCase`` (the
fields of ``engine.cases.store.OpenCase`` it uses) rather than importing the store.

May import: ``engine.cases.events``, ``engine.cases.states``, ``engine.bpmn``, ``engine.storage``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy.orm import Session

from engine.bpmn.definitions import BundleDefinition
from engine.bpmn.manifest import Item
from engine.bpmn.receive_tasks import waiting_receive_tasks
from engine.cases.events import TaskApproved
from engine.cases.states import OPEN_WORK_STATES, CaseStatus, Outcome, WorkItemState
from engine.storage.models import Case, WorkItem
from engine.storage.spine import emit

MESSAGE_KIND = "message"


class LockedCase(Protocol):
    """A case locked in its write transaction with its workflow and task rows (``OpenCase``)."""

    session: Session
    case: Case
    definition: BundleDefinition
    workflow: BpmnWorkflow
    now: datetime
    created: list[WorkItem]
    live: list[WorkItem]

    @property
    def rows(self) -> list[WorkItem]:
        """Every task row of the case (read on first use)."""
        ...

    def add_rows(self, created: list[WorkItem]) -> None:
        """Rows this action queued join the case's rows."""
        ...


C = TypeVar("C", bound=LockedCase)
DueFor = Callable[[float, datetime], datetime]
Route = Callable[[Item], str]  # the office division a task of the item goes to


def sync_message_items(oc: LockedCase, due_for: DueFor, route: Route) -> set[str]:
    """Queue a row for each newly waiting receive task bound to an item; the Spiff ids still waiting.

    The caller keeps open rows whose Spiff id is in the answer (they are not "vanished"); a
    row whose receive task stopped waiting without its message (a boundary event took over,
    the case ended) is cancelled by the caller like any vanished task.
    """
    case = oc.case
    manifest = oc.definition.manifest
    bound = {
        t.spiff_id: (t, item)
        for t in waiting_receive_tasks(oc.workflow)
        if (item := manifest.item_for_task(t.name)) is not None
    }
    if case.status not in (CaseStatus.RUNNING, CaseStatus.AWAITING_APPLICANT):
        return set(bound)
    known = {r.spiff_id for r in oc.live if r.kind == MESSAGE_KIND and r.state in OPEN_WORK_STATES}
    created: list[WorkItem] = []
    for spiff_id, (task, item) in bound.items():
        if spiff_id in known:
            continue
        row = WorkItem(
            case_id=case.id,
            deployment_id=case.deployment_id,
            bundle_key=case.bundle_key,
            item_key=item.key,
            task_name=task.name,
            spiff_id=spiff_id,
            department=item.department,
            division=route(item),
            state=WorkItemState.READY,
            round=case.round,
            created_at=oc.now,
            due_at=due_for(item.time_limit_days, oc.now),
            kind=MESSAGE_KIND,
            topic=task.message,
        )
        oc.session.add(row)
        created.append(row)
    oc.created.extend(created)
    oc.add_rows(created)
    return set(bound)


def complete_message_items(
    oc: C,
    name: str,
    variables: Mapping[str, Any],
    actor: str,
    issue_outputs: Callable[[C, WorkItem, Mapping[str, Any]], None],
) -> list[WorkItem]:
    """Complete, as approvals by ``actor``, the open rows whose receive task caught message ``name``.

    Call after the workflow caught the message: a row for ``name`` whose task no longer
    waits was finished by it. Its decision is the message's variables named by the item's
    ``decision_fields``; the item's outputs are issued by ``issue_outputs`` (the clerk's
    approval's own ``TaskActions._issue_outputs``).
    """
    still = {t.spiff_id for t in waiting_receive_tasks(oc.workflow)}
    manifest = oc.definition.manifest
    done: list[WorkItem] = []
    for row in oc.live:  # open rows are live
        if row.kind != MESSAGE_KIND or row.topic != name or row.state not in OPEN_WORK_STATES:
            continue
        if row.spiff_id in still:
            continue
        fields = manifest.item(row.item_key).decision_fields
        decision = {k: variables[k] for k in fields if k in variables}
        row.state = WorkItemState.COMPLETED
        row.outcome = Outcome.APPROVE
        row.assignee = actor
        row.completed_at = oc.now
        row.decision = decision
        emit(
            oc.session,
            TaskApproved(
                case_id=oc.case.id, at=oc.now, actor=actor, work_item_id=row.id, item=row.item_key, comment=""
            ),
        )
        issue_outputs(oc, row, decision)
        done.append(row)
    return done
