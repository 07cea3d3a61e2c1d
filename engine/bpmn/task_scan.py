"""The workflow's ready or waiting tasks, found without walking its whole task tree.

Spiff's ``get_tasks`` walks the tree from its root, task by task through its iterator's
bookkeeping (a list it pops from the front and prepends each task's children to), so each call
costs in proportion to every task the case has run: a sequential multi-instance step over 200
entries keeps 200 finished instances under one parent, and every task action asked for the
ready and waiting tasks several times. Each workflow (and subprocess) also holds its tasks in a
dict by id; one pass over those values tests each task's state and nothing more, and only the
few tasks found are put in the order the tree walk would give: depth first, a subprocess's
tasks before its calling task's children.

The scan answers only for definite states (``READY``, ``WAITING``): a task in one of them has
only definite ancestors, which the walk always descends through, so the two find the same
tasks (``tests/engine/test_task_scan.py`` checks it over every shipped and test bundle). A
filter on finished states may differ (the walk does not look under a waiting parent), so it
stays with ``get_tasks``.

May import: SpiffWorkflow only.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_DEFINITE = TaskState.READY | TaskState.WAITING


def tasks_in_state(workflow: BpmnWorkflow, state: int, *, manual: bool | None = None) -> list[Task]:
    """The tasks in ``state`` (READY and/or WAITING), in the order ``workflow.get_tasks`` gives.

    ``manual`` filters as ``get_tasks(manual=...)`` does (None: any).
    """
    if state & ~_DEFINITE or not state:
        raise ValueError("tasks_in_state scans only the definite states READY and WAITING")
    found = [
        task
        for flow in (workflow, *workflow.subprocesses.values())
        for task in flow.tasks.values()
        if task.has_state(state) and (manual is None or task.task_spec.manual == manual)
    ]
    if len(found) > 1:
        found.sort(key=lambda task: _tree_position(workflow, task))
    return found


def _tree_position(top: BpmnWorkflow, task: Task) -> tuple[int, ...]:
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
