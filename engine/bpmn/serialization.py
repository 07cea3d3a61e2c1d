"""Workflow state to and from text, without the spec.

SpiffWorkflow's ``serialize_json`` embeds the whole parsed diagram in every save (10-56 KB)
and escapes Chinese as ``\\uXXXX``. A case's spec is its deployment's, parsed once and
cached by digest, so we store only the instance (task tree, data deltas, events) and hand
the cached spec back in when restoring. Dates and Decimals in task data survive the trip.

The durable engine saves after every task action, and Spiff's generic ``to_dict`` (a
registry lookup, a dict and four UUID-to-text conversions per task, then the whole tree
re-encoded) cost about as much as the action itself. So ``dumps`` writes the same text
itself: each task's structural part is remembered between saves of a live workflow and
reused only while every value it was written from is unchanged; task data is encoded
on every save. Spiff's deserializer reads it back, its task restore done by ``restore_tasks``
(Spiff's steps, each id's text parsed once).

May import: SpiffWorkflow, ``engine.bpmn.case_workflow`` and the standard library only.
"""

from __future__ import annotations

import json
import math
import weakref
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, NamedTuple
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow, BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.case_workflow import CaseSubWorkflow, CaseWorkflow


def restore_tasks(
    registry: DefaultRegistry, mapping: dict[str, Any], workflow: BpmnBaseWorkflow
) -> dict[UUID, Task]:
    """A workflow's tasks from their dicts, as Spiff's ``TaskConverter.from_dict`` makes them.

    Spiff parses an id's text everywhere it appears (the mapping's key, the task's own id, its
    parent, its place among its parent's children: four ``UUID`` parses a task), and sends every
    empty dict through the registry; on a case of 200 finished instances that was a third of a
    restore. Here each text is parsed once per restore and empty dicts are taken as they are;
    the rest is Spiff's code in Spiff's order (tests/engine/test_serialization_fast.py compares
    every restored task with Spiff's own restore). A dict of another type goes to the registry.
    """
    ids: dict[str, UUID] = {}

    def uuid(text: str) -> UUID:
        found = ids.get(text)
        if found is None:
            found = ids[text] = UUID(text)
        return found

    restore = registry.restore
    specs = workflow.spec.task_specs
    events = workflow.top_workflow.event_manager
    tasks: dict[UUID, Task] = {}
    for key, dct in mapping.items():
        if dct.get("typename") != "Task":
            tasks[uuid(key)] = restore(dct, workflow=workflow)
            continue
        spec = specs.get(dct["task_spec"])
        task = Task(workflow, spec, state=dct["state"], id=uuid(dct["id"]))
        parent_id = dct["parent"]
        task._parent = uuid(parent_id) if parent_id is not None else None
        task._children = [uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        internal = dct["internal_data"]
        task.internal_data = restore(internal) if internal else internal
        if isinstance(spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            events.add_task(task)
        delta = dct.get("delta")
        parent = task.parent
        if delta and parent is not None:
            data = DeepMerge.merge({}, parent.data)
            updates = delta.get("updates", {})
            if updates:
                data.update(restore(updates))
            for name in delta.get("deletions", {}):
                data.pop(name, None)
        else:
            stored = dct["data"]
            data = restore(stored) if stored else stored
        task.data = data
        tasks[uuid(key)] = task
    return tasks


class _InstanceOnlyConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Spiff's workflow converter, minus the spec on the way out, given the spec on the way in."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct  # type: ignore[no-any-return]

    def from_dict(
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Mapping[str, Any] | None = None
    ) -> BpmnWorkflow:
        if spec is None:
            raise ValueError("restoring a workflow needs its spec")
        workflow = self.target_class(spec, dict(subprocess_specs or {}), deserializing=True)
        workflow.tasks = restore_tasks(self.registry, dct["tasks"], workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _SubWorkflowConverter(BpmnSubWorkflowConverter):  # type: ignore[misc]
    """Spiff's subprocess converter, its tasks restored by ``restore_tasks``."""

    def from_dict(self, dct: dict[str, Any], task: Task, top_workflow: BpmnWorkflow) -> BpmnSubWorkflow:
        spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
        subprocess = self.target_class(spec, task.id, top_workflow, deserializing=True)
        subprocess.tasks = restore_tasks(self.registry, dct["tasks"], subprocess)
        subprocess.task_tree = subprocess.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(subprocess, dct)
        return subprocess


def _registry() -> DefaultRegistry:
    registry = DefaultRegistry()
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    config = {**DEFAULT_CONFIG, BpmnWorkflow: _InstanceOnlyConverter}
    BpmnWorkflowSerializer.configure(config, registry)
    # A case's own classes under Spiff's names, registered last: a state restores as them.
    _InstanceOnlyConverter(CaseWorkflow, registry, typename=BpmnWorkflow.__name__)
    _SubWorkflowConverter(CaseSubWorkflow, registry, typename=BpmnSubWorkflow.__name__)
    return registry


_COVERED = (CaseWorkflow, BpmnWorkflow)
_EMPTY_DELTA = '{"updates":{},"deletions":[]}'


class _TaskHead(NamedTuple):
    """A task's text up to its internal data, with every value that text was written from.

    The text is a function of exactly these values: ids and the parent id are UUIDs,
    state, timestamp, spec name and ``triggered`` are immutable scalars compared by
    identity (a new value is a new object, so a changed task never matches), and the
    children are compared as a list of UUIDs. Task data is not part of it: it can change
    in place without a state change (``Runner.update_data``), so it is encoded every time.
    """

    key: UUID
    task_id: UUID
    parent: UUID | None
    children: list[UUID]
    state: int
    changed: float
    spec: str
    triggered: bool
    text: str
    plain: str  # text followed by empty internal data, data and delta (most tasks)


# Task ids remembered as JSON text, by number: ``str`` of a UUID (and its ``hash``) is
# Python code, and a restored copy of a case has new UUID objects with the same numbers.
_NAMES_KEPT = 1 << 15


class WorkflowCodec:
    """Turns a running workflow into compact JSON text and back, given its spec.

    ``dumps`` writes directly (``_fast_dumps``) what Spiff's ``to_dict`` and JSON encoder
    write (``_generic_dumps``, still used for workflows the direct path does not cover);
    ``loads`` is Spiff's deserializer with ``restore_tasks``. One codec serves every thread: what it
    remembers is checked before use, so a race costs only a recomputation.
    """

    def __init__(self) -> None:
        self._serializer = BpmnWorkflowSerializer(_registry())
        self._registry: DefaultRegistry = self._serializer.registry
        self._encode: Callable[[Any], str] = self._serializer._encoder_cls(
            ensure_ascii=False, separators=(",", ":")
        ).encode
        # The task heads the last save of each live workflow wrote, by id(task); gone with the workflow.
        self._heads: weakref.WeakKeyDictionary[BpmnWorkflow, dict[int, _TaskHead]] = (
            weakref.WeakKeyDictionary()
        )
        self._names: dict[int, str] = {}

    @property
    def registry(self) -> DefaultRegistry:
        """SpiffWorkflow's converter registry (``SpecDiff`` compares task specs through it)."""
        return self._registry

    def dumps(self, workflow: BpmnWorkflow) -> str:
        """The workflow's instance state as JSON text (no spec, Chinese kept as is)."""
        registry = self._registry
        registry._encoder_mode = True  # as Spiff's serialize_json: registered values convert lazily
        try:
            text = self._fast_dumps(workflow)
            return text if text is not None else self._generic_dumps(workflow)
        finally:
            registry._encoder_mode = False

    def loads(self, text: str, spec: Any, subprocess_specs: Mapping[str, Any]) -> BpmnWorkflow:
        """Rebuild a workflow from ``dumps`` text and the (cached) spec it runs."""
        dct = json.loads(text)
        version = dct.pop(BpmnWorkflowSerializer.VERSION_KEY, VERSION)
        if version in MIGRATIONS:
            MIGRATIONS[version](dct)
        workflow: BpmnWorkflow = self._serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
        return workflow

    def _generic_dumps(self, workflow: BpmnWorkflow) -> str:
        """Spiff's own path (registry ``to_dict``, then its JSON encoder), for what ``_fast_dumps`` leaves."""
        dct = self._serializer.to_dict(workflow)
        dct[BpmnWorkflowSerializer.VERSION_KEY] = VERSION
        return self._encode(dct)

    def _fast_dumps(self, workflow: BpmnWorkflow) -> str | None:
        """The text ``_generic_dumps`` writes, built directly; None for a workflow it does not cover.

        Covered: a ``CaseWorkflow`` (or Spiff's plain ``BpmnWorkflow``) of plain ``Task``s with dict
        data and no subprocess workflows. Task data and internal data still go through Spiff's
        encoder (dates, Decimals and other registered types as the registry writes them). A task's
        ``delta`` is skipped as empty when its data equals its parent's, which differs from Spiff's
        key-by-key ``!=`` only for a value unequal to itself (NaN) shared by both dicts, and
        restores to the same data.
        """
        if type(workflow) not in _COVERED or workflow.subprocesses:
            return None
        tasks = workflow.tasks
        old = self._heads.get(workflow, {})
        heads: dict[int, _TaskHead] = {}
        parts: list[str] = []
        for uid, task in tasks.items():
            data = task.data
            if type(task) is not Task or type(data) is not dict:
                return None
            parent = tasks.get(task._parent)
            parent_id = task._parent if parent is not None else None
            head = old.get(id(task))
            if (
                head is None
                or head.key is not uid
                or head.task_id is not task.id
                or head.parent is not parent_id
                or head.state is not task._state
                or head.changed is not task.last_state_change
                or head.spec is not task.task_spec.name
                or head.triggered is not task.triggered
                or head.children != task._children
            ):
                head = self._task_head(uid, task, parent_id)
            heads[id(task)] = head
            internal = task.internal_data
            if parent is None:
                delta = "{}"
                own = self._encode(data)
            else:
                own = "{}"
                delta = _EMPTY_DELTA if data == parent.data else self._delta(parent.data, data)
            if not internal and type(internal) is dict:
                if delta is _EMPTY_DELTA:
                    parts.append(head.plain)
                    continue
                inner = "{}"
            else:
                inner = self._encode(self._registry.convert(internal))
            parts.append(f'{head.text}{inner},"data":{own},"delta":{delta},"typename":"Task"}}')
        self._heads[workflow] = heads
        registry = self._registry
        last = workflow.last_task
        return (
            f'{{"data":{self._plain(registry.convert(registry.clean(workflow.data)))},'
            f'"correlations":{self._plain(workflow.correlations)},'
            f'"last_task":{self._scalar(str(last.id) if last is not None else None)},'
            f'"success":{self._scalar(workflow.success)},"completed":{self._scalar(workflow.completed)},'
            f'"tasks":{{{",".join(parts)}}},"root":{self._scalar(str(workflow.task_tree.id))},'
            f'"subprocesses":{{}},"bpmn_events":{self._plain(registry.convert(workflow.bpmn_events))},'
            f'"typename":"BpmnWorkflow","{BpmnWorkflowSerializer.VERSION_KEY}":{self._scalar(VERSION)}}}'
        )

    def _task_head(self, key: UUID, task: Task, parent_id: UUID | None) -> _TaskHead:
        """A task's text up to its internal data, from the values a later call checks it against."""
        children = list(task._children)
        spec = task.task_spec.name
        text = (
            f'{self._name(key)}:{{"id":{self._name(task.id)},'
            f'"parent":{self._name(parent_id) if parent_id is not None else "null"},'
            f'"children":[{",".join([self._name(child) for child in children])}],'
            f'"last_state_change":{self._scalar(task.last_state_change)},"state":{self._scalar(task._state)},'
            f'"task_spec":{self._scalar(spec)},"triggered":{self._scalar(task.triggered)},"internal_data":'
        )
        plain = f'{text}{{}},"data":{{}},"delta":{_EMPTY_DELTA},"typename":"Task"}}'
        return _TaskHead(
            key,
            task.id,
            parent_id,
            children,
            task._state,
            task.last_state_change,
            spec,
            task.triggered,
            text,
            plain,
        )

    def _name(self, uid: UUID) -> str:
        """A task id as a JSON string."""
        name = self._names.get(uid.int)
        if name is None:
            if len(self._names) >= _NAMES_KEPT:
                self._names.clear()
            name = self._names[uid.int] = encode_basestring(str(uid))
        return name

    def _delta(self, parent: dict[str, Any], data: dict[str, Any]) -> str:
        """Spiff's delta of a task's data against its parent's (``DeepMerge`` updated and deleted keys)."""
        updates = {key: value for key, value in data.items() if key not in parent or value != parent[key]}
        deletions = [key for key in parent if key not in data]
        return self._encode({"updates": updates, "deletions": deletions})

    def _plain(self, value: Any) -> str:
        """An empty dict or list as its literal, anything else through the encoder."""
        if not value and type(value) in (dict, list):
            return "{}" if type(value) is dict else "[]"
        return self._encode(value)

    def _scalar(self, value: Any) -> str:
        """One JSON scalar as the encoder writes it, without the encoder's per-call setup."""
        if value is True:
            return "true"
        if value is False:
            return "false"
        if value is None:
            return "null"
        kind = type(value)
        if kind is str:
            return encode_basestring(value)
        if kind is int:
            return int.__repr__(value)
        if kind is float and math.isfinite(value):
            return float.__repr__(value)
        return self._encode(value)
