"""Receive tasks a workflow waits at: the steps a department's own system finishes by a message.

A ``bpmn:receiveTask`` bound to a bundle item (``handled_by: system``) is a department's step
like a user task, but nobody claims it: the department's system reports its result by a
message (``POST /engine-rest/message``) and the task completes when that message is caught.
SpiffWorkflow keeps such a task in ``WAITING`` (a catching event) until then; this module
lists those tasks as onething's own values, so the cases layer can keep a task row for each
(``engine.cases.message_items``) without touching Spiff's objects.

May import: ``engine.bpmn.task_scan``, SpiffWorkflow.
"""

from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import ReceiveTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.task_scan import tasks_in_state


@dataclass(frozen=True)
class WaitingReceiveTask:
    """A receive task waiting for its message: Spiff id, BPMN id, lane (department) and message name."""

    spiff_id: str
    name: str
    lane: str | None
    message: str


def waiting_receive_tasks(workflow: BpmnWorkflow) -> list[WaitingReceiveTask]:
    """Every receive task of the workflow (subprocesses included) waiting for a message, in a stable order."""
    found: list[WaitingReceiveTask] = []
    for task in tasks_in_state(workflow, TaskState.WAITING):
        spec = task.task_spec
        definition = getattr(spec, "event_definition", None)
        if not isinstance(spec, ReceiveTask) or not isinstance(definition, MessageEventDefinition):
            continue
        found.append(WaitingReceiveTask(str(task.id), spec.bpmn_id or spec.name, spec.lane, definition.name))
    return found
