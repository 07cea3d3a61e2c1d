"""Moving a running workflow from one version of a bundle's diagram to another (SpiffWorkflow side).

Two steps, both on SpiffWorkflow objects, so the rest of the engine sees element ids only:

- ``default_alignment``: which element of the old diagram corresponds to which of the new,
  from SpiffWorkflow's own ``SpecDiff`` (same BPMN id first, then by matching inputs and
  outputs: a task renamed in place aligns with its new id). It pre-fills a plan's task map.
- ``replay``: the case's workflow on the new diagram. SpiffWorkflow's ``migrate_workflow``
  swaps specs in the old task tree and resets the waiting branches; that is right while
  every old element has one new counterpart, but a parallel join counts completed inputs
  by spec name, so two old tasks merged into one new one are counted twice (the join fires
  early) and a removed gateway before a join is not counted at all (the join never fires).
  ``replay`` instead starts the new diagram with the case's first data and runs it forward:
  a ready task whose element the old case already completed (through the plan's map) is
  completed again with that task's data; one that an old waiting task maps to stays waiting;
  one that is neither (a step the new version adds on the way) stays waiting as a new step.
  A catch event the old case has passed (an intermediate timer that fired, a message that
  arrived) is caught again in the same way: the timer fires at once and the message is
  delivered with the data the old catch took in (its payload was merged into that task's
  data, which is the only full record of it: the ``MessageCorrelated`` line keeps names).
  A timer the case waits at, and a boundary timer on a task it waits at (an SLA escalation),
  keep their running due time unless the plan's timer rule says ``recompute``.
  Gateways decide on the same data, so the case reaches the mapped waiting points.

May import: SpiffWorkflow, ``engine.bpmn``, ``engine.errors``, the standard library.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.definitions import BundleDefinition
from engine.bpmn.runtime import Runner, clocked
from engine.bpmn.serialization import WorkflowCodec

MAX_REPLAY_ROUNDS = 200
DataMap = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class WaitingPoint:
    """An element of a diagram a case can wait at: a person's or system's task, or a catch event."""

    element: str
    name: str
    lane: str | None
    timer: bool


@dataclass(frozen=True)
class Waiting:
    """One task a running workflow waits at now."""

    spiff_id: str
    element: str


@dataclass
class Replayed:
    """A workflow replayed onto the new diagram and how its waiting tasks moved."""

    workflow: BpmnWorkflow
    # Old waiting task id -> new waiting task id (several old ones may share one: a merge).
    moved: dict[str, str]
    # New waiting elements no old waiting task maps to (a step the new version adds).
    new_steps: list[str]


class ReplayFailed(Exception):
    """The new diagram did not reach the mapped waiting points with the case's data."""


def _element(task: Task) -> str:
    return str(task.task_spec.bpmn_id or task.task_spec.name)


def _is_catch(spec: Any) -> bool:
    return isinstance(spec, CatchingEvent) and not isinstance(spec, StartEvent | BoundaryEvent)


def waiting_points(definition: BundleDefinition) -> dict[str, WaitingPoint]:
    """Every element of the top process reachable from its start where a case can wait, by id."""
    spec = definition.spec
    seen: set[str] = set()
    found: dict[str, WaitingPoint] = {}
    stack = [spec.start]
    while stack:
        task_spec = stack.pop()
        if task_spec.name in seen:
            continue
        seen.add(task_spec.name)
        stack.extend(task_spec.outputs)
        if task_spec.bpmn_id is None:
            continue
        if task_spec.manual or _is_catch(task_spec):
            timer = isinstance(getattr(task_spec, "event_definition", None), TimerEventDefinition)
            found[task_spec.bpmn_id] = WaitingPoint(
                task_spec.bpmn_id, task_spec.bpmn_name or task_spec.bpmn_id, task_spec.lane, timer
            )
    return found


class _SpecDiff(SpecDiff):  # type: ignore[misc]  # SpiffWorkflow is untyped
    """``SpecDiff`` that also compares task specs the serializer has no converter for (our ``ExternalTask``).

    The registry hands such a spec back unconverted; Spiff's comparison expects a dict.
    """

    def _compare_task_specs(self, spec: Any, candidate: Any) -> list[str]:
        s1, s2 = self._registry.convert(spec), self._registry.convert(candidate)
        if not isinstance(s1, dict) or not isinstance(s2, dict):
            return [] if type(spec) is type(candidate) else ["typename"]
        if s1.get("typename") != s2.get("typename"):
            return ["typename"]
        return [key for key, value in s1.items() if s2.get(key) != value]


def default_alignment(codec: WorkflowCodec, old: BundleDefinition, new: BundleDefinition) -> dict[str, str]:
    """Old element id -> new element id as SpiffWorkflow's ``SpecDiff`` aligns the two diagrams."""
    diff = _SpecDiff(codec.registry, old.spec, new.spec)
    aligned: dict[str, str] = {}
    for before, after in diff.alignment.items():
        if after is not None and before.bpmn_id and after.bpmn_id:
            aligned[str(before.bpmn_id)] = str(after.bpmn_id)
    return aligned


def waiting_now(workflow: BpmnWorkflow) -> list[Waiting]:
    """The tasks a workflow waits at: ready people's and systems' tasks, waiting catch events."""
    found = [Waiting(str(t.id), _element(t)) for t in workflow.get_tasks(state=TaskState.READY, manual=True)]
    found.extend(
        Waiting(str(t.id), _element(t))
        for t in workflow.get_tasks(state=TaskState.WAITING)
        if _is_catch(t.task_spec)
    )
    return found


def replay(
    runner: Runner,
    old: BpmnWorkflow,
    new: BundleDefinition,
    tasks: Mapping[str, str],
    data_map: DataMap,
    keep_timers: Callable[[str], bool],
) -> Replayed:
    """The case's workflow on the new diagram, at the waiting points ``tasks`` maps its waiting ones to.

    ``tasks`` maps every old element id the case has completed or waits at to its new
    element id (unmapped completed elements, such as removed gateways, are simply not
    replayed). ``data_map`` applies the plan's field changes to each data set. A timer the
    case waits at keeps its running due time when ``keep_timers(element)`` says so.
    """
    waiting = waiting_now(old)
    targets: dict[str, list[Waiting]] = {}
    for point in waiting:
        targets.setdefault(tasks[point.element], []).append(point)
    done: dict[str, list[Task]] = {}
    completed = sorted(
        (t for t in old.get_tasks(state=TaskState.COMPLETED) if t.task_spec.manual or _is_catch(t.task_spec)),
        key=lambda t: t.last_state_change,
    )
    for task in completed:
        target = tasks.get(_element(task))
        if target is not None:
            done.setdefault(target, []).append(task)
    first = old.task_tree.children[0].data if old.task_tree.children else old.task_tree.data
    workflow = runner.start(new, data_map(copy.deepcopy(dict(first))))
    with clocked(runner.clock):
        for _round in range(MAX_REPLAY_ROUNDS):
            progressed = False
            for task in workflow.get_tasks(state=TaskState.READY, manual=True):
                element = _element(task)
                if element in targets or not done.get(element):
                    continue
                source = done[element].pop(0)
                task.set_data(**data_map(copy.deepcopy(dict(source.data))))
                task.run()
                progressed = True
            for task in workflow.get_tasks(state=TaskState.WAITING):
                element = _element(task)
                if not _is_catch(task.task_spec) or element in targets or not done.get(element):
                    continue
                _catch_again(task, data_map(copy.deepcopy(dict(done[element].pop(0).data))))
                progressed = True
            if not progressed:
                break
            workflow.do_engine_steps()
    return _match(old, workflow, waiting, targets, data_map, keep_timers)


def _catch_again(task: Task, data: dict[str, Any]) -> None:
    """Let a waiting catch event take again what the old case's took: a timer fires, a message arrives.

    The event goes through Spiff's own ``catch`` (a message's payload is what the old catch
    left in its data, so the data after the catch is the same); the engine steps that follow
    run the event and what comes after it.
    """
    task.set_data(**data)
    task.task_spec.catch(task, BpmnEvent(task.task_spec.event_definition, payload=copy.deepcopy(data)))
    task.task_spec._update(task)


def _match(
    old: BpmnWorkflow,
    workflow: BpmnWorkflow,
    waiting: list[Waiting],
    targets: dict[str, list[Waiting]],
    data_map: DataMap,
    keep_timers: Callable[[str], bool],
) -> Replayed:
    """Pair the old waiting tasks with the replayed workflow's; refuse when a target was not reached."""
    now_waiting = waiting_now(workflow)
    by_element: dict[str, list[Waiting]] = {}
    for point in now_waiting:
        by_element.setdefault(point.element, []).append(point)
    moved: dict[str, str] = {}
    for element, olds in targets.items():
        found = by_element.get(element)
        if not found:
            raise ReplayFailed(
                f"新版本未到达等待点 {element} (the new version did not reach {element} with this data)"
            )
        for point in olds:
            moved[point.spiff_id] = found[0].spiff_id
            old_task = old.get_task_from_id(UUID(point.spiff_id))
            new_task = workflow.get_task_from_id(UUID(found[0].spiff_id))
            # The waiting task's own data (a returned task keeps what the clerk saw).
            new_task.data = data_map(copy.deepcopy(dict(old_task.data)))
            if keep_timers(point.element):
                _keep_due(old_task, new_task)
                _keep_boundary_due(old_task, new_task)
    new_steps = sorted({p.element for p in now_waiting if p.element not in targets})
    return Replayed(workflow, moved, new_steps)


def _keep_due(old_task: Task, new_task: Task) -> None:
    """The new waiting timer takes the old one's running due time (``event_value``)."""
    if "event_value" in old_task.internal_data:
        new_task.internal_data["event_value"] = copy.deepcopy(old_task.internal_data["event_value"])


def _boundary_timers(task: Task) -> dict[str, Task]:
    """The waiting boundary timers attached to a task (Spiff makes them the task's siblings), by element."""
    parent = task.parent
    if parent is None:
        return {}
    return {
        _element(t): t
        for t in parent.children
        if t is not task
        and isinstance(t.task_spec, BoundaryEvent)
        and isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
        and t.state == TaskState.WAITING
    }


def _keep_boundary_due(old_task: Task, new_task: Task) -> None:
    """A boundary timer (an escalation) on a moved task keeps its due time when the new task has it too."""
    olds = _boundary_timers(old_task)
    for element, new_timer in _boundary_timers(new_task).items():
        if element in olds:
            _keep_due(olds[element], new_timer)
