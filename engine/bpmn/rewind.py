"""Taking a running workflow back to an earlier task it completed (退回到指定环节), behind the facade.

The steps a case may be sent back to are the completed user and external tasks on the path
that led to a waiting task: its ancestors in SpiffWorkflow's task tree. Resetting one of
them (``BpmnWorkflow.reset_from_task_id``) drops exactly what followed it on that path: the
waiting task, any parallel branches split after it (done or not), their joins. Tasks on
parallel branches that split *before* the target are not its descendants and stay as they
are (waiting, claimed or done); the join waits for the re-run branch again and fires when
it arrives. So the later steps run again exactly where the diagram puts them after the
target, and nothing else moves.

A task done on a branch that a join has already merged away (a sibling branch of the
waiting task's path) is not an ancestor, so it is not offered: resetting it alone would
leave the join's earlier firing standing. Moving forward (skipping steps) is not offered
either: the skipped decisions (a licence number, a branch condition) would be missing.

May import: ``engine.bpmn`` (runtime), ``engine.errors``, SpiffWorkflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.definitions import ExternalTask
from engine.bpmn.runtime import Runner, TaskKind, _engine_steps, clocked
from engine.errors import TaskNotReady


@dataclass(frozen=True)
class EarlierTask:
    """A completed user or external task on the path to a waiting task: a place to go back to."""

    spiff_id: str
    element_id: str
    kind: TaskKind


def _find(workflow: BpmnWorkflow, spiff_id: str) -> Task | None:
    """The task, or None when the workflow no longer holds it (Spiff raises for an unknown id)."""
    try:
        return workflow.get_task_from_id(UUID(spiff_id))
    except TaskNotFoundException:
        return None


def _task(workflow: BpmnWorkflow, spiff_id: str) -> Task:
    task = _find(workflow, spiff_id)
    if task is None:
        raise TaskNotReady("流程中没有这个任务 (the task is not in the workflow)")
    return task


def earlier_tasks(workflow: BpmnWorkflow, spiff_id: str) -> list[EarlierTask]:
    """The completed user and external tasks the waiting task ``spiff_id`` came from, nearest first."""
    found: list[EarlierTask] = []
    node = _task(workflow, spiff_id).parent
    while node is not None:
        spec = node.task_spec
        if spec.manual and node.state == TaskState.COMPLETED and spec.bpmn_id:
            kind = TaskKind.EXTERNAL if isinstance(spec, ExternalTask) else TaskKind.HUMAN
            found.append(EarlierTask(str(node.id), str(spec.bpmn_id), kind))
        node = node.parent
    return found


def rewind(runner: Runner, workflow: BpmnWorkflow, target: str) -> None:
    """Reset the completed task ``target`` to be done again; what followed it on its path is dropped.

    The target's data is its parent's again (what it saw the first time); the workflow then
    runs its engine steps, so the target waits as a ready task and any join it feeds waits.
    """
    task = _task(workflow, target)
    if task.state != TaskState.COMPLETED or not task.task_spec.manual:
        raise TaskNotReady("只能退回到已办结的环节 (only a completed step can be reopened)")
    with clocked(runner.clock):
        workflow.reset_from_task_id(task.id)
        _engine_steps(workflow)


def still_ready(workflow: BpmnWorkflow, spiff_id: str) -> bool:
    """Whether the task is still in the workflow and ready (a rewind did not drop it)."""
    task = _find(workflow, spiff_id)
    return task is not None and task.state == TaskState.READY
