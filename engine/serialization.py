"""Workflow state to and from text, without the spec.

SpiffWorkflow's ``serialize_json`` embeds the whole parsed diagram in every save (10-56 KB)
and escapes Chinese as ``\\uXXXX``. A case's spec is its deployment's, parsed once and
cached by digest, so we store only the instance (task tree, data deltas, events) and hand
the cached spec back in when restoring. Dates and Decimals in task data survive the trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow


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
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _registry() -> DefaultRegistry:
    registry = DefaultRegistry()
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    config = {**DEFAULT_CONFIG, BpmnWorkflow: _InstanceOnlyConverter}
    return BpmnWorkflowSerializer.configure(config, registry)


class WorkflowCodec:
    """Turns a running workflow into compact JSON text and back, given its spec."""

    def __init__(self) -> None:
        self._serializer = BpmnWorkflowSerializer(_registry())

    def dumps(self, workflow: BpmnWorkflow) -> str:
        """The workflow's instance state as JSON text (no spec, Chinese kept as is)."""
        registry = self._serializer.registry
        registry._encoder_mode = True
        try:
            dct = self._serializer.to_dict(workflow)
            dct[BpmnWorkflowSerializer.VERSION_KEY] = VERSION
            return json.dumps(
                dct, ensure_ascii=False, separators=(",", ":"), cls=self._serializer._encoder_cls
            )
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


def json_ready(value: Any) -> Any:
    """Task data made plain JSON (for case rows and APIs): dates as ISO text, Decimals as str."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
