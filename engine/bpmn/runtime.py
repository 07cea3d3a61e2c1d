"""The SpiffWorkflow facade for running cases: start, find ready user tasks, complete, timers.

Everything outside this module (and ``definitions``/``serialization``) sees onething's own
values: ``ReadyTask`` instead of Spiff's Task, ``EngineError`` subclasses instead of
Spiff's exceptions.

Two SpiffWorkflow behaviours are handled here:
- nested task data is shared between tasks (notes, pitfall 1): we only ever replace
  top-level keys, with deep copies;
- timers read ``datetime.now`` inside Spiff's timer module; the engine's clock is
  injectable, so while a workflow runs under ``clocked(clock)`` that module sees the
  engine's time (tests and the demo move time; production passes the system clock).

May import: ``engine.bpmn`` (definitions, expressions), ``engine.time``, ``engine.errors``, ``forms``,
SpiffWorkflow.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.definitions import BundleDefinition
from engine.bpmn.expressions import make_script_engine
from engine.errors import EngineError, ExpressionFailed, ExpressionRefused, TaskNotReady
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


@dataclass(frozen=True)
class ReadyTask:
    """A user task waiting for a person: its Spiff id, BPMN id and lane (department)."""

    spiff_id: str
    name: str
    lane: str | None
    label: str


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


class Runner:
    """Runs workflows of one process; holds the script engine (restricted language)."""

    def __init__(self, clock: Clock, local_date: Callable[[datetime], date] = china_today) -> None:
        self.clock = clock
        # ``today()`` in a diagram is the office's date (the calendar's zone), not UTC's.
        self.script_engine = make_script_engine(today=lambda: local_date(clock.now()))

    def start(self, definition: BundleDefinition, data: Mapping[str, Any]) -> BpmnWorkflow:
        """A new workflow with the application data, run until it waits on people or timers."""
        workflow = BpmnWorkflow(
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

    def ready_tasks(self, workflow: BpmnWorkflow) -> list[ReadyTask]:
        """User tasks waiting for a person, in a stable order."""
        tasks = workflow.get_tasks(state=TaskState.READY, manual=True)
        return [
            ReadyTask(
                str(t.id),
                t.task_spec.bpmn_id or t.task_spec.name,
                t.task_spec.lane,
                t.task_spec.bpmn_name or t.task_spec.name,
            )
            for t in tasks
        ]

    def complete(self, workflow: BpmnWorkflow, spiff_id: str, updates: Mapping[str, Any]) -> None:
        """Complete a ready user task with the clerk's data, then run on until the next wait."""
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
        """The earliest due time among the workflow's waiting timer events."""
        due: list[datetime] = []
        for event in workflow.waiting_events():
            if "Timer" not in event.event_type or event.value is None:
                continue
            value = event.value
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
                for t in workflow.get_tasks(state=TaskState.WAITING)
                if t.task_spec.bpmn_id
            }
        )

    @staticmethod
    def is_completed(workflow: BpmnWorkflow) -> bool:
        """Whether the process reached its end."""
        return bool(workflow.is_completed())

    @staticmethod
    def ended_in_rejection(workflow: BpmnWorkflow) -> bool:
        """Whether the process ended at an end event whose id starts with ``rejected`` (不予受理/不予办理)."""
        return any(
            t.task_spec.bpmn_id.lower().startswith("rejected")
            for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if t.task_spec.__class__.__name__ == "EndEvent" and t.task_spec.bpmn_id
        )

    @staticmethod
    def data(workflow: BpmnWorkflow) -> dict[str, Any]:
        """The data of the most recently completed task (the case's current data)."""
        last = workflow.last_task
        source = last.data if last is not None else workflow.task_tree.data
        return copy.deepcopy(dict(source))


Updater = Callable[[BpmnWorkflow], None]
