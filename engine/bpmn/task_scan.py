"""A workflow's ready or waiting tasks, or a spec's tasks, found without walking its whole task tree.

Spiff's ``get_tasks`` walks the tree from its root (a subprocess's from its own root), task by
task through its iterator's bookkeeping (a list it pops from the front and prepends each task's
children to), so each call costs in proportion to every task the case has run: a sequential
multi-instance step over 200 entries keeps 200 finished instances under one parent, and every
task action asked for the ready and waiting tasks several times. Each workflow (and subprocess)
also holds its tasks in a dict by id; one pass over those values (a subprocess's own and those
of the subprocesses it called, as its walk reaches them) tests each task's state and nothing
more, and only the few tasks found are put in the order the tree walk would give: depth first, a
subprocess's tasks before its calling task's children.

The scan answers only for definite states (``READY``, ``WAITING``): a task in one of them has
only definite ancestors, which the walk always descends through, so the two find the same
tasks (``tests/engine/test_task_scan.py`` checks it over every shipped and test bundle). A
filter on finished states may differ (the walk does not look under a waiting parent), so it
stays with ``get_tasks``.

May import: SpiffWorkflow only.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_DEFINITE = TaskState.READY | TaskState.WAITING


def tasks_in_state(workflow: BpmnBaseWorkflow, state: int, *, manual: bool | None = None) -> list[Task]:
    """The tasks in ``state`` (READY and/or WAITING), in the order ``workflow.get_tasks`` gives.

    ``workflow`` is a case's top workflow or one of its subprocesses; ``manual`` filters as
    ``get_tasks(manual=...)`` does (None: any).
    """
    if state & ~_DEFINITE or not state:
        raise ValueError("tasks_in_state scans only the definite states READY and WAITING")
    found = [
        task
        for flow in _flows(workflow)
        for task in flow.tasks.values()
        if task._state & state and (manual is None or task.task_spec.manual == manual)
    ]
    if len(found) > 1:
        in_tree_order(workflow, found)
    return found


def tasks_named(workflow: BpmnBaseWorkflow, name: str) -> list[Task]:
    """The tasks of the spec ``name``, in any state, in the order ``get_tasks(spec_name=name)`` gives.

    A parallel gateway asks this of its workflow each time one of its inputs arrives, to learn
    which inputs it still waits for: on Spiff's walk, a look at every task the case has run,
    and a twentieth of an enterprise-startup case's time. Asked for every state, the walk
    descends through every task (a predicted one too) and into every subprocess its calling
    task holds, so it meets each task of ``workflow``'s flows (the scan's own) down to its
    depth limit of 1,000 levels, below which it stops looking; the scan does not.
    """
    found = [task for flow in _flows(workflow) for task in flow.tasks.values() if task.task_spec.name == name]
    if len(found) > 1:
        in_tree_order(workflow, found)
    return found


def in_tree_order(workflow: BpmnBaseWorkflow, tasks: list[Task]) -> None:
    """Sort ``tasks`` (of ``workflow`` and its subprocesses) in place into the walk's depth-first order."""
    top = workflow.top_workflow
    tasks.sort(key=lambda task: _tree_position(top, task))


def _flows(workflow: BpmnBaseWorkflow) -> list[BpmnBaseWorkflow]:
    """``workflow`` and every subprocess its walk descends into: all a top workflow's, a subprocess's own."""
    top = workflow.top_workflow
    if workflow is top:
        return [top, *top.subprocesses.values()]
    flows = [workflow]
    for subprocess in top.subprocesses.values():
        outer = subprocess.parent_workflow
        while outer is not None and outer is not workflow:
            outer = outer.parent_workflow
        if outer is workflow:
            flows.append(subprocess)
    return flows


def _tree_position(top: BpmnBaseWorkflow, task: Task) -> tuple[int, ...]:
    """Where the depth-first walk meets ``task``: child indexes from the root down.

    A subprocess's tree hangs under the task that called it, before that task's children
    (index -1), as the walk visits it.
    """
    path: list[int] = []
    current: Task | None = task
    while current is not None:
        parent = current.parent
        if parent is not None:
            path.append(parent._children.index(current.id))
            current = parent
            continue
        flow = current.workflow
        caller_id = getattr(flow, "parent_task_id", None)
        if caller_id is None:
            break
        path.append(-1)
        current = top.get_task_from_id(caller_id)
    path.reverse()
    return tuple(path)
