"""The workflow classes a case runs on: Spiff's, without the whole-tree walks that repeat.

Spiff walks a workflow's task tree from its root whenever it looks for tasks, so each look
costs in proportion to every task the case has ever run; a bundle with a loop or a
multi-instance step over 200 entries keeps all 200 finished instances in its tree. Three such
walks repeat on every task action:
- ``do_engine_steps`` asks each workflow for its READY tasks, again after every round of
  running them (``get_tasks(state=READY)``);
- every task that completes makes its workflow re-examine its WAITING tasks
  (``update_waiting_tasks``), and a parallel gateway reached by one more of its inputs looks
  for every instance of itself (``get_tasks(spec_name=...)``);
- a workflow that finishes is logged with the id of every task in it whenever the
  ``spiff.workflow`` logger has no level of its own, as it has none unless set
  (``collect_log_extras`` reads ``logger.level``, not the effective level).

Here the first two find their tasks with ``task_scan``'s flat scans and the third leaves the id
list out. The gateway's look was a twentieth of an enterprise-startup case's CPU (py-spy over
``python -m tests.bench engine``'s cases), half that with the scan. On the long-review bundle
the 200th task action (which also ends the 200-instance step and the case) went from 1.9-3.8x
the first to 1.2-2.0x, warm cache, over several runs of ``python -m tests.bench long`` on a
shared 2-core machine; ``tests/engine/test_case_workflow.py`` runs diagrams with joins, timers,
an event-based gateway, a boundary event and a subprocess on these classes and on Spiff's side
by side and finds the same trees after every step.

Both classes are written and read under Spiff's type names (``serialization`` registers them
so): a stored state does not say which class ran it.

May import: SpiffWorkflow and ``engine.bpmn.task_scan`` only.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

from engine.bpmn.task_scan import in_tree_order, tasks_in_state, tasks_named

_SCANNED = TaskState.READY | TaskState.WAITING
_SCANNED_FILTERS = frozenset({"state", "manual"})


class _FlatScans(Workflow):  # type: ignore[misc]
    """The three overrides, between Spiff's BPMN classes and its ``Workflow`` in the method order.

    Listed after a Spiff class (``class CaseWorkflow(BpmnWorkflow, _FlatScans)``), it comes
    after every BPMN class and before ``Workflow``, so ``BpmnSubWorkflow.collect_log_extras``
    still adds its parent task's id on top of this one.
    """

    def get_tasks(self, first_task: Task | None = None, **kwargs: Any) -> list[Task]:
        """Spiff's ``get_tasks``; a filter on READY and/or WAITING alone (and ``manual``), or on a spec's
        name alone (a parallel gateway's look for its own instances), is scanned."""
        state = kwargs.get("state")
        if (
            first_task is None
            and isinstance(state, int)
            and state
            and not state & ~_SCANNED
            and _SCANNED_FILTERS.issuperset(kwargs)
        ):
            return tasks_in_state(self, state, manual=kwargs.get("manual"))
        if first_task is None and kwargs.keys() == {"spec_name"}:
            return tasks_named(self, kwargs["spec_name"])
        return super().get_tasks(first_task, **kwargs)  # type: ignore[no-any-return]

    def update_waiting_tasks(self) -> None:
        """Update this workflow's WAITING tasks (not its subprocesses'), as Spiff's does.

        Spiff's walk is lazy: it updates a task only if the task still waits when reached and is
        still in the tree, so the tasks found up front are checked for both before each update.
        An update in Spiff's BPMN specs changes its own task and those under it, or cancels the
        other waiting instances of its join; none sets a task waiting that was not, so the walk
        meets no task the scan missed (the side-by-side test runs every kind of waiting task).
        """
        waiting = [task for task in self.tasks.values() if task._state == TaskState.WAITING]
        if len(waiting) > 1:
            in_tree_order(self, waiting)
        tasks = self.tasks
        for task in waiting:
            if task._state == TaskState.WAITING and tasks.get(task.id) is task:
                task.task_spec._update(task)

    def collect_log_extras(self, dct: dict[str, Any] | None = None) -> dict[str, Any]:
        """What Spiff logs of a workflow, without the id of every task in it (see the module docstring)."""
        extra = dct or {}
        extra.update(
            {
                "workflow_spec": self.spec.name,
                "success": self.success,
                "completed": self.completed,
                "root": self.task_tree.id,
            }
        )
        return extra


class CaseSubWorkflow(BpmnSubWorkflow, _FlatScans):  # type: ignore[misc]
    """A subprocess (embedded or called) of a case."""


class CaseWorkflow(BpmnWorkflow, _FlatScans):  # type: ignore[misc]
    """A case's workflow; its subprocesses are ``CaseSubWorkflow``s."""

    def create_subprocess(self, my_task: Task, spec_name: str) -> CaseSubWorkflow:
        """Spiff's ``create_subprocess``, of this module's class."""
        spec = self.subprocess_specs[spec_name]
        subprocess = CaseSubWorkflow(spec, parent_task_id=my_task.id, top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess
