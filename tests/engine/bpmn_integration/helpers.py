"""Loading the small test bundles of this folder and running them with a real SpiffWorkflow Runner."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.definitions import BundleDefinition, load_definition, read_bundle_dir
from engine.bpmn.runtime import ReadyTask, Runner
from engine.bpmn.serialization import WorkflowCodec
from engine.time.clock import ManualClock

BUNDLES = Path(__file__).parent / "bundles"
CODEC = WorkflowCodec()


def bundle_files(name: str) -> dict[str, bytes]:
    """The files of a test bundle folder."""
    return read_bundle_dir(BUNDLES / name)


@cache
def definition(name: str) -> BundleDefinition:
    """A test bundle parsed as a deployment would parse it (shared read-only, as the cache does)."""
    return load_definition(bundle_files(name))


def runner() -> Runner:
    """A Runner on a manual clock (timers move only when a test moves it)."""
    return Runner(ManualClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC)))


def roundtrip(run: Runner, workflow: BpmnWorkflow, bundle: BundleDefinition) -> BpmnWorkflow:
    """Save and restore a workflow as the case store does (instance only, spec from the definition)."""
    return run.attach(CODEC.loads(CODEC.dumps(workflow), bundle.spec, bundle.subprocess_specs))


def only(tasks: list[ReadyTask], name: str) -> ReadyTask:
    """The one ready task with this BPMN id."""
    (found,) = [t for t in tasks if t.name == name]
    return found


def completed(workflow: BpmnWorkflow) -> set[str]:
    """BPMN ids of the elements a workflow has completed."""
    return {
        str(t.task_spec.bpmn_id) for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id
    }
