"""The SpiffWorkflow facade for running cases: start, ready tasks, complete, timers, errors, messages.

Everything outside this module (and ``definitions``/``serialization``) sees onething's own
values: ``ReadyTask`` instead of Spiff's Task, ``EngineError`` subclasses instead of
Spiff's exceptions.

Two SpiffWorkflow behaviours are handled here:
- nested task data is shared between tasks (notes, pitfall 1): we only ever replace
  top-level keys, with deep copies;
- timers read ``datetime.now`` inside Spiff's timer module; the engine's clock is
  injectable, so while a workflow runs under ``clocked(clock)`` that module sees the
  engine's time (tests and the demo move time; production passes the system clock).

Department systems take part in three ways:
- an external task (a service task, ``definitions.ExternalTask``) waits like a user task and
  is completed by ``complete``; ``throw_error`` routes a BPMN error from it to an error
  boundary event attached to *that* task only (Spiff's own routing would let any waiting
  error catcher take it);
- ``correlate`` delivers a message to the workflow's waiting message catchers (catch events,
  receive tasks, boundary events, event-based gateways); ``start_by_message`` starts a
  case at a message start event;
- ``outbound`` hands over the messages the workflow threw that it did not catch itself
  (send tasks, message throw and end events): names and element ids only, never case data.

May import: ``engine.bpmn`` (definitions, expressions, task_scan), ``engine.time``, ``engine.errors``,
``forms``, SpiffWorkflow.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.case_workflow import CaseWorkflow
from engine.bpmn.definitions import BundleDefinition, ExternalTask
from engine.bpmn.expressions import make_script_engine
from engine.bpmn.task_scan import tasks_in_state
from engine.errors import CaseNotWaiting, EngineError, ExpressionFailed, ExpressionRefused, TaskNotReady
from engine.time.clock import Clock
from forms.checks import china_today

_current_clock: ContextVar[Clock | None] = ContextVar("onething_clock", default=None)


class _ClockedDatetime(datetime):
    """``datetime`` whose ``now`` follows the engine clock while a workflow runs."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _ClockedDatetime:
        clock = _current_clock.get()
        real = clock.now() if clock is not None else datetime.now(UTC)
        value = real.astimezone(tz) if tz is not None else real.astimezone(UTC).replace(tzinfo=None)
        return cls.fromtimestamp(value.timestamp(), tz) if tz is not None else cls(*value.timetuple()[:6])


spiff_timer.datetime = _ClockedDatetime


@contextmanager
def clocked(clock: Clock) -> Iterator[None]:
    """Run SpiffWorkflow code under the engine's clock."""
    token = _current_clock.set(clock)
    try:
        yield
    finally:
        _current_clock.reset(token)


class TaskKind(StrEnum):
    """Who does a ready task: a person (user/manual task) or a department's system (service task)."""

    HUMAN = "human"
    EXTERNAL = "external"


@dataclass(frozen=True)
class ReadyTask:
    """A task waiting for a person or a department system: Spiff id, BPMN id, lane (department).

    For an external task, ``topic`` is the effective topic (the diagram's ``camunda:topic``,
    else the binding item's) and ``priority`` its ``camunda:taskPriority``.
    """

    spiff_id: str
    name: str
    lane: str | None
    label: str
    kind: TaskKind = TaskKind.HUMAN
    topic: str | None = None
    priority: int = 0


@dataclass(frozen=True)
class OutboundMessage:
    """A message the workflow threw for the outside world: its name and the throwing element's id."""

    name: str
    element_id: str


def _translate(exc: Exception) -> EngineError:
    """A Spiff failure as one of our errors (the original stays chained)."""
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, ExpressionRefused | ExpressionFailed):
            return inner
        inner = inner.__cause__ or inner.__context__
    return ExpressionFailed(f"流程执行失败 (workflow step failed): {exc}")


def _engine_steps(workflow: BpmnWorkflow) -> None:
    try:
        workflow.do_engine_steps()
    except (SpiffWorkflowException, WorkflowException, EngineError) as exc:
        raise _translate(exc) from exc


def _ready_task(task: Task) -> ReadyTask:
    spec = task.task_spec
    external = isinstance(spec, ExternalTask)
    return ReadyTask(
        str(task.id),
        spec.bpmn_id or spec.name,
        spec.lane,
        spec.bpmn_name or spec.name,
        TaskKind.EXTERNAL if external else TaskKind.HUMAN,
        spec.topic if external else None,
        spec.priority if external else 0,
    )


def _catches(task: Task) -> list[Any]:
    """The event definitions a waiting catcher takes (an event-based gateway holds its events' ones)."""
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def _message_names(task: Task) -> list[str]:
    """The message names a waiting catcher (event, receive task, boundary, event-based gateway) takes."""
    return [str(d.name) for d in _catches(task) if isinstance(d, MessageEventDefinition) and d.name]


def _error_boundary(task: Task, code: str) -> Task | None:
    """The waiting error boundary event on ``task`` that catches ``code``: exact code, else a catch-all.

    Boundary events are siblings of the activity under its boundary split; an instance of a
    multi-instance or loop activity sits one level further down, under the activity itself.
    """
    activity = task
    while activity.parent is not None and activity.parent.task_spec.bpmn_id == task.task_spec.bpmn_id:
        activity = activity.parent
    parent = activity.parent
    if parent is None:
        return None
    catch_all: Task | None = None
    for sibling in parent.children:
        spec = sibling.task_spec
        if not isinstance(spec, BoundaryEvent) or sibling.state != TaskState.WAITING:
            continue
        definition = spec.event_definition
        if not isinstance(definition, ErrorEventDefinition):
            continue
        if definition.code == code:
            return sibling
        if definition.code is None and catch_all is None:
            catch_all = sibling
    return catch_all


class Runner:
    """Runs workflows of one process; holds the script engine (restricted language)."""

    def __init__(self, clock: Clock, local_date: Callable[[datetime], date] = china_today) -> None:
        self.clock = clock
        # ``today()`` in a diagram is the office's date (the calendar's zone), not UTC's.
        self.script_engine = make_script_engine(today=lambda: local_date(clock.now()))

    def start(self, definition: BundleDefinition, data: Mapping[str, Any]) -> BpmnWorkflow:
        """A new workflow with the application data, run until it waits on people or timers."""
        workflow = CaseWorkflow(
            definition.spec, dict(definition.subprocess_specs), script_engine=self.script_engine
        )
        with clocked(self.clock):
            for task in workflow.get_tasks(state=TaskState.READY):
                task.data.update(copy.deepcopy(dict(data)))
            _engine_steps(workflow)
        return workflow

    def attach(self, workflow: BpmnWorkflow) -> BpmnWorkflow:
        """Give a restored workflow this process's script engine."""
        workflow.script_engine = self.script_engine
        return workflow

    def start_by_message(
        self, definition: BundleDefinition, name: str, data: Mapping[str, Any]
    ) -> BpmnWorkflow:
        """A new workflow started at the message start event for ``name``, run until it waits.

        ``data`` (the message's variables) becomes the case's top-level data. A none start
        event beside the message start is not taken: the case starts where the message says.
        """
        if name not in definition.message_starts:
            raise CaseNotWaiting(f"流程没有以消息 {name!r} 开始的事件 (no message start event for {name!r})")
        workflow = CaseWorkflow(
            definition.spec, dict(definition.subprocess_specs), script_engine=self.script_engine
        )
        with clocked(self.clock):
            for task in workflow.get_tasks(state=TaskState.READY):
                task.data.update(copy.deepcopy(dict(data)))
            try:
                self._run_to_start_events(workflow)
                event = BpmnEvent(MessageEventDefinition(name), payload=copy.deepcopy(dict(data)))
                caught = workflow.event_manager.catch(event, internal=False)
            except (SpiffWorkflowException, WorkflowException, EngineError) as exc:
                raise _translate(exc) from exc
            if not caught:
                raise CaseNotWaiting(f"消息 {name!r} 未能开始流程 (the message started no process)")
            _engine_steps(workflow)
        return workflow

    @staticmethod
    def _run_to_start_events(workflow: BpmnWorkflow) -> None:
        """Run the workflow's opening steps until its start events wait; none start events are cancelled."""
        while True:
            ready = tasks_in_state(workflow, TaskState.READY, manual=False)
            if not ready:
                return
            for task in ready:
                spec = task.task_spec
                if isinstance(spec, StartEvent) and isinstance(spec.event_definition, NoneEventDefinition):
                    task.cancel()
                elif isinstance(spec, StartEvent):
                    return  # a start event about to fire without the message (a timer): leave it
                else:
                    task.run()

    def ready_tasks(self, workflow: BpmnWorkflow) -> list[ReadyTask]:
        """Tasks waiting for a person (kind human) or a department system (kind external), stably ordered."""
        return [_ready_task(t) for t in tasks_in_state(workflow, TaskState.READY, manual=True)]

    def complete(self, workflow: BpmnWorkflow, spiff_id: str, updates: Mapping[str, Any]) -> None:
        """Complete a ready user or external task with the clerk's (system's) data, then run on."""
        task = workflow.get_task_from_id(UUID(spiff_id))
        if task is None or task.state != TaskState.READY:
            raise TaskNotReady("任务不在可办理状态 (task is not ready in the workflow)")
        with clocked(self.clock):
            task.set_data(**copy.deepcopy(dict(updates)))
            try:
                task.run()
            except (SpiffWorkflowException, WorkflowException, EngineError) as exc:
                raise _translate(exc) from exc
            _engine_steps(workflow)

    def throw_error(
        self,
        workflow: BpmnWorkflow,
        spiff_id: str,
        code: str,
        message: str,
        variables: Mapping[str, Any],
    ) -> bool:
        """A BPMN error from a ready external task, caught only by an error boundary event on that task.

        True when one caught it: the task is cancelled, ``variables`` (only they) become
        top-level data on the boundary route, and the workflow runs on. False, with the
        workflow unchanged, when no boundary event on the task catches ``code``. ``message``
        is the system's text for the caller's record; it never enters the case data.
        """
        task = workflow.get_task_from_id(UUID(spiff_id))
        if task is None or task.state != TaskState.READY or not isinstance(task.task_spec, ExternalTask):
            raise TaskNotReady("外部任务不在可办理状态 (the external task is not ready in the workflow)")
        boundary = _error_boundary(task, code)
        if boundary is None:
            return False
        payload = copy.deepcopy(dict(variables))
        definition = boundary.task_spec.event_definition
        event = BpmnEvent(ErrorEventDefinition(definition.name, code), payload=payload)
        with clocked(self.clock):
            try:
                boundary.task_spec.catch(boundary, event)
                boundary.task_spec._update(boundary)
            except (SpiffWorkflowException, WorkflowException, EngineError) as exc:
                raise _translate(exc) from exc
            _engine_steps(workflow)
        return True

    @staticmethod
    def waiting_messages(workflow: BpmnWorkflow) -> list[str]:
        """Names of the messages the workflow waits for, sorted, each once."""
        names: set[str] = set()
        for task in workflow.event_manager.tasks.values():
            if task.state == TaskState.WAITING:
                names.update(_message_names(task))
        return sorted(names)

    def correlate(self, workflow: BpmnWorkflow, name: str, variables: Mapping[str, Any]) -> bool:
        """Deliver a message; its variables become top-level data and the workflow runs on.

        Every catcher waiting for ``name`` takes it (as Spiff's event manager delivers), each
        its own copy of the variables: Spiff would hand them all one payload, whose nested
        values the tasks' data would then share (notes, pitfall 1). False, with the workflow
        unchanged, when the workflow does not wait for ``name``.
        """
        probe = BpmnEvent(MessageEventDefinition(name))
        catchers = [
            task
            for task in list(workflow.event_manager.tasks.values())
            if task.state == TaskState.WAITING and task.task_spec.catches(task, probe)
        ]
        if not catchers:
            return False
        with clocked(self.clock):
            try:
                for task in catchers:
                    event = BpmnEvent(MessageEventDefinition(name), payload=copy.deepcopy(dict(variables)))
                    task.task_spec.catch(task, event)
                    task.task_spec._update(task)
            except (SpiffWorkflowException, WorkflowException, EngineError) as exc:
                raise _translate(exc) from exc
            _engine_steps(workflow)
        return True

    @staticmethod
    def outbound(workflow: BpmnWorkflow) -> list[OutboundMessage]:
        """Messages thrown since the last call that the workflow did not catch itself, in throw order.

        Spiff keeps each such event (with a copy of the thrower's data) until it is taken;
        only the name and the throwing element's id leave here. The element is the most
        recently completed send task, message throw or end event throwing that name.
        """
        events = [e for e in workflow.get_events() if isinstance(e.event_definition, MessageEventDefinition)]
        if not events:
            return []
        throwers: dict[str, list[Task]] = {}
        for task in workflow.get_tasks(state=TaskState.COMPLETED):
            spec = task.task_spec
            # Send tasks, intermediate throw and end events are all Spiff ThrowingEvents.
            if isinstance(spec, ThrowingEvent) and isinstance(spec.event_definition, MessageEventDefinition):
                throwers.setdefault(str(spec.event_definition.name), []).append(task)
        names = [str(e.event_definition.name) for e in events]
        # The n latest throwers of a name threw its n events, oldest first.
        latest = {
            name: sorted(throwers.get(name, []), key=lambda t: t.last_state_change)[-count:]
            for name, count in Counter(names).items()
        }
        messages: list[OutboundMessage] = []
        for name in names:
            task = latest[name].pop(0) if latest[name] else None
            element = str(task.task_spec.bpmn_id) if task is not None and task.task_spec.bpmn_id else ""
            messages.append(OutboundMessage(name, element))
        return messages

    def update_data(self, workflow: BpmnWorkflow, updates: Mapping[str, Any]) -> None:
        """Replace top-level keys in every task still to run (the applicant's supplement)."""
        for task in workflow.get_tasks(
            state=TaskState.READY | TaskState.WAITING | TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE
        ):
            task.data.update(copy.deepcopy(dict(updates)))

    def fire_timers(self, workflow: BpmnWorkflow) -> None:
        """Let timers whose time has come fire, and run on."""
        with clocked(self.clock):
            try:
                workflow.refresh_timers()
            except (SpiffWorkflowException, WorkflowException, EngineError) as exc:
                raise _translate(exc) from exc
            _engine_steps(workflow)

    def next_timer(self, workflow: BpmnWorkflow) -> datetime | None:
        """The earliest due time among the workflow's waiting timers (event-based gateways' too).

        A timer keeps its due time in its task's ``event_value`` (a cycle: ``next`` in it);
        Spiff's ``waiting_events`` does not show it for a timer behind an event-based gateway.
        """
        due: list[datetime] = []
        for task in workflow.event_manager.tasks.values():
            if not any(isinstance(d, TimerEventDefinition) for d in _catches(task)):
                continue
            value = task.internal_data.get("event_value")
            text = value if isinstance(value, str) else value.get("next") if isinstance(value, dict) else None
            if text:
                moment = datetime.fromisoformat(str(text))
                due.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        return min(due) if due else None

    @staticmethod
    def waiting_at(workflow: BpmnWorkflow) -> list[str]:
        """BPMN ids of the elements a workflow waits at (joins, events), to say where it is stuck."""
        return sorted(
            {
                str(t.task_spec.bpmn_id)
                for t in tasks_in_state(workflow, TaskState.WAITING)
                if t.task_spec.bpmn_id
            }
        )

    @staticmethod
    def is_completed(workflow: BpmnWorkflow) -> bool:
        """Whether the process reached its end."""
        return bool(workflow.is_completed())

    @staticmethod
    def ended_in_rejection(workflow: BpmnWorkflow) -> bool:
        """Whether the process ended at an end event whose id starts with ``rejected`` (不予受理/不予办理).

        The end events of its subprocesses count too. One pass over each workflow's tasks by id
        (the walk ``get_tasks(state=COMPLETED)`` would take visits every task in the tree).
        """
        return any(
            task._state == TaskState.COMPLETED
            and task.task_spec.__class__.__name__ == "EndEvent"
            and str(task.task_spec.bpmn_id or "").lower().startswith("rejected")
            for flow in (workflow, *workflow.subprocesses.values())
            for task in flow.tasks.values()
        )

    @staticmethod
    def data(workflow: BpmnWorkflow) -> dict[str, Any]:
        """The data of the most recently completed task (the case's current data)."""
        last = workflow.last_task
        source = last.data if last is not None else workflow.task_tree.data
        return copy.deepcopy(dict(source))


Updater = Callable[[BpmnWorkflow], None]
