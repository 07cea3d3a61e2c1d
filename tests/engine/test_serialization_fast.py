"""``WorkflowCodec.dumps`` writes what SpiffWorkflow's own serializer writes, and ``loads`` restores it.

``dumps`` builds its text directly and remembers each task's structural text between calls
(engine/bpmn/serialization.py). These tests hold it to Spiff's generic path (the registry's
``to_dict`` and Spiff's JSON encoder, with the codec's registry) after every step of every
example of every shipped bundle, restore each state and run it to the end, and change task
data, state and tree behind the codec's back to show that nothing stale is written.
``loads`` restores tasks by ``restore_tasks``; every task it makes is compared with the one
Spiff's own ``TaskConverter`` makes from the same text.
"""

from __future__ import annotations

import gc
import json
import math
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import serialization
from engine.bpmn.definitions import BundleDefinition, load_definition, read_bundle_dir
from engine.bpmn.manifest import Example, outcome_key, parse_manifest
from engine.bpmn.receive_tasks import waiting_receive_tasks
from engine.bpmn.runtime import Runner
from engine.bpmn.serialization import WorkflowCodec, _registry
from engine.demo import DEMO_START, TIMER_STEP, WORK_TIME
from engine.storage.settings import shipped_processes_dir
from engine.time.clock import ManualClock
from tests.engine.test_case_workflow import WAITS, parsed

SPIFF = BpmnWorkflowSerializer(_registry())


def spiff_text(workflow: BpmnWorkflow) -> str:
    """The workflow state as Spiff's generic path writes it (what ``WorkflowCodec.dumps`` did before)."""
    SPIFF.registry._encoder_mode = True
    try:
        dct = SPIFF.to_dict(workflow)
        dct[BpmnWorkflowSerializer.VERSION_KEY] = VERSION
        return json.dumps(dct, ensure_ascii=False, separators=(",", ":"), cls=SPIFF._encoder_cls)
    finally:
        SPIFF.registry._encoder_mode = False


def bundle_dirs() -> list[Path]:
    return sorted(p for p in shipped_processes_dir().iterdir() if (p / "bundle.yaml").is_file())


EXAMPLES = [
    (path.name, index)
    for path in bundle_dirs()
    for index in range(len(parse_manifest((path / "bundle.yaml").read_bytes(), "bundle.yaml").examples))
]


@dataclass
class Run:
    """One example of a bundle running in memory, as the engine runs it (approve everything)."""

    definition: BundleDefinition
    example: Example
    clock: ManualClock
    runner: Runner
    workflow: BpmnWorkflow

    def item(self, task_name: str) -> str:
        return next(i.key for i in self.definition.manifest.items if i.task == task_name)

    def steps(self) -> Iterator[str]:
        """Approve one ready task, or move the clock to the next timer; yields what it did, until the end."""
        for _ in range(200):
            if self.workflow.is_completed():
                return
            ready = self.runner.ready_tasks(self.workflow)
            if ready:
                item = self.item(ready[0].name)
                self.clock.advance(WORK_TIME)
                decision = {**self.example.decisions.get(item, {}), outcome_key(item): "approve"}
                self.runner.complete(self.workflow, ready[0].spiff_id, decision)
                yield item
            elif waiting := waiting_receive_tasks(self.workflow):  # a system's message (the hospital's)
                item = self.item(waiting[0].name)
                self.clock.advance(WORK_TIME)
                self.runner.correlate(self.workflow, waiting[0].message, self.example.decisions.get(item, {}))
                yield item
            else:
                due = self.runner.next_timer(self.workflow)
                assert due is not None, "waiting on neither a person nor a timer"
                self.clock.set(max(due + TIMER_STEP, self.clock.now()))
                self.runner.fire_timers(self.workflow)
                yield "timer"
        raise AssertionError("the example did not finish in 200 steps")

    def approved(self) -> set[str]:
        """The items whose tasks (a clerk's, or a system's by a message) completed."""
        tasks = {i.task for i in self.definition.manifest.items}
        done = self.workflow.get_tasks(state=TaskState.COMPLETED)
        return {self.item(t.task_spec.bpmn_id) for t in done if t.task_spec.bpmn_id in tasks}

    def restored(self, codec: WorkflowCodec, text: str) -> Run:
        """This run continued from ``text`` on a restored workflow, with a clock of its own."""
        clock = ManualClock(self.clock.now())
        runner = Runner(clock)
        workflow = runner.attach(codec.loads(text, self.definition.spec, self.definition.subprocess_specs))
        return Run(self.definition, self.example, clock, runner, workflow)


def start(key: str, index: int = 0, extra: dict[str, Any] | None = None) -> Run:
    definition = load_definition(read_bundle_dir(shipped_processes_dir() / key))
    example = definition.manifest.examples[index]
    clock = ManualClock(DEMO_START)
    runner = Runner(clock)
    workflow = runner.start(definition, {**example.data, **(extra or {})})
    return Run(definition, example, clock, runner, workflow)


def written_as_spiff_writes(codec: WorkflowCodec, workflow: BpmnWorkflow) -> str:
    """``dumps``, checked against Spiff's own text (as parsed data first, for a readable difference)."""
    text = codec.dumps(workflow)
    expected = spiff_text(workflow)
    assert json.loads(text) == json.loads(expected)
    assert text == expected
    return text


@pytest.mark.parametrize(("key", "index"), EXAMPLES, ids=[f"{k}-{i + 1}" for k, i in EXAMPLES])
def test_every_step_of_every_example_is_written_as_spiff_writes_it_and_restores(key: str, index: int) -> None:
    run = start(key, index)
    codec = WorkflowCodec()
    route = set(run.example.route)
    for _step in [None, *run.steps()]:
        text = written_as_spiff_writes(codec, run.workflow)
        assert codec.dumps(run.workflow) == text, "a second save of an unchanged workflow"
        copy = run.restored(codec, text)
        assert codec.dumps(copy.workflow) == text
        for _ in copy.steps():
            written_as_spiff_writes(codec, copy.workflow)
        assert copy.workflow.is_completed()
        assert copy.approved() == route
    assert run.approved() == route


EXTRA: dict[str, Any] = {
    "签发日期": date(2025, 3, 3),
    "received_at": datetime(2025, 3, 3, 9, 30, tzinfo=UTC),
    "local_time": datetime(2025, 3, 3, 9, 30),
    "fee": Decimal("123.45"),
    "股东": [
        {"姓名": "陈晓明", "比例": Decimal("0.6"), "since": date(2020, 1, 2)},
        {"姓名": "李静", "比例": Decimal("0.4"), "notes": ["法定代表人", None, 1.5, True]},
    ],
    "address": {"省": "上海市", "区": "浦东新区", "lines": [["张江路88号", "3幢"], {"室": 501}]},
    "waiting": timedelta(days=3, seconds=5),
    "reference": UUID("12345678-1234-5678-1234-567812345678"),
}


def all_data(workflow: BpmnWorkflow) -> dict[UUID, dict[str, Any]]:
    return {task.id: task.data for task in workflow.tasks.values()}


def test_dates_decimals_nested_data_and_chinese_go_through_the_registry_and_come_back() -> None:
    run = start("enterprise-startup", extra=EXTRA)
    codec = WorkflowCodec()
    for _step in [None, *run.steps()]:
        text = written_as_spiff_writes(codec, run.workflow)
        for typename in ("date", "datetime", "Decimal", "timedelta", "UUID"):
            assert f'"typename":"{typename}"' in text
        assert "上海澄川信息科技有限公司" in text and "\\u" not in text
        copy = codec.loads(text, run.definition.spec, run.definition.subprocess_specs)
        assert all_data(copy) == all_data(run.workflow)
        assert copy.last_task.data["股东"][0]["比例"] == Decimal("0.6")
        assert type(copy.last_task.data["签发日期"]) is date


def test_values_plain_json_lacks_are_written_as_the_encoder_writes_them() -> None:
    run = start("enterprise-startup")
    codec = WorkflowCodec()
    first = run.workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    first.data.update({"pair": ("a", 1), "kinds": {"营业执照"}, "hook": len, 7: "int key"})
    first.internal_data.update({"hook": len, "seen": datetime(2025, 3, 3, 10, 0, tzinfo=UTC)})
    run.workflow.task_tree.data["at"] = date(2025, 3, 3)
    run.workflow.data.update({"total": Decimal("9.90"), "hook": len})
    run.workflow.correlations["case"] = {"no": Decimal("1")}
    written_as_spiff_writes(codec, run.workflow)


def test_data_changed_without_a_state_change_is_written() -> None:
    run = start("enterprise-startup", 1)
    codec = WorkflowCodec()
    steps = run.steps()
    next(steps)
    waiting = run.workflow.get_tasks(state=TaskState.READY | TaskState.FUTURE | TaskState.LIKELY)
    before = {task.id: (task.state, task.last_state_change) for task in waiting}
    written_as_spiff_writes(codec, run.workflow)
    run.runner.update_data(
        run.workflow, {"legal_rep_phone": "13900000000", "补正": {"日期": date(2025, 3, 4)}}
    )
    assert {task.id: (task.state, task.last_state_change) for task in waiting} == before
    assert "13900000000" in written_as_spiff_writes(codec, run.workflow)
    waiting[-1].data["补正"]["材料"] = ["身份证复印件"]  # nested, in place
    assert "身份证复印件" in written_as_spiff_writes(codec, run.workflow)
    del waiting[-1].data["legal_rep_phone"]
    written_as_spiff_writes(codec, run.workflow)
    waiting[0].internal_data["note"] = "已补正"
    assert "已补正" in written_as_spiff_writes(codec, run.workflow)
    for _ in steps:
        written_as_spiff_writes(codec, run.workflow)
    assert run.workflow.is_completed()


def test_every_value_a_task_head_is_written_from_is_checked() -> None:
    run = start("enterprise-startup")
    codec = WorkflowCodec()
    written_as_spiff_writes(codec, run.workflow)
    task = run.workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    key = task.id
    other = next(t for t in run.workflow.tasks.values() if t is not task and t._children)
    changes: list[Callable[[], object]] = [
        lambda: setattr(task, "_state", TaskState.STARTED),  # same last_state_change
        lambda: setattr(task, "last_state_change", task.last_state_change + 1.0),
        lambda: setattr(task, "last_state_change", int(task.last_state_change)),  # 1700000000 vs 1700000000.0
        lambda: setattr(task, "triggered", True),
        lambda: task._children.append(other._children[0]),  # in place
        lambda: task._children.clear(),
        lambda: setattr(task, "_parent", other.id),
        lambda: setattr(task, "_parent", UUID(int=1)),  # a parent no longer in the workflow: a root
        lambda: setattr(task, "task_spec", other.task_spec),
        lambda: setattr(task, "id", UUID(int=2)),
        lambda: run.workflow.tasks.update({UUID(int=3): run.workflow.tasks.pop(key)}),
    ]
    for change in changes:
        change()
        written_as_spiff_writes(codec, run.workflow)


SUBPROCESS_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="with_sub" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="sub_start"/>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="review"/>
      <bpmn:userTask id="review" name="审核"/>
      <bpmn:sequenceFlow id="s2" sourceRef="review" targetRef="sub_end"/>
      <bpmn:endEvent id="sub_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_a_workflow_with_a_subprocess_is_written_by_spiffs_path_and_restores() -> None:
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(SUBPROCESS_DIAGRAM), filename="sub.bpmn")
    spec, subprocess_specs = parser.get_spec("with_sub"), parser.get_subprocess_specs("with_sub")
    workflow = BpmnWorkflow(spec, subprocess_specs)
    workflow.get_tasks(state=TaskState.READY)[0].data.update({"申请": {"金额": Decimal("10.5")}})
    workflow.do_engine_steps()
    assert workflow.subprocesses
    codec = WorkflowCodec()
    text = written_as_spiff_writes(codec, workflow)
    copy = codec.loads(text, spec, subprocess_specs)
    assert codec.dumps(copy) == text
    [review] = copy.get_tasks(state=TaskState.READY, manual=True)
    review.run()
    copy.do_engine_steps()
    assert copy.is_completed()
    assert copy.last_task.data["申请"]["金额"] == Decimal("10.5")


def test_a_value_unequal_to_itself_shared_with_the_parent_restores_from_the_parent() -> None:
    run = start("enterprise-startup", extra={"ratio": math.nan})
    codec = WorkflowCodec()
    next(run.steps())
    copy = codec.loads(codec.dumps(run.workflow), run.definition.spec, run.definition.subprocess_specs)
    carrying = {task.id for task in run.workflow.tasks.values() if "ratio" in task.data}
    assert len(carrying) > 2
    assert {task.id for task in copy.tasks.values() if "ratio" in task.data} == carrying
    assert all(math.isnan(copy.tasks[task_id].data["ratio"]) for task_id in carrying)


def test_the_codec_does_not_keep_workflows_alive() -> None:
    run = start("enterprise-startup")
    codec = WorkflowCodec()
    codec.dumps(run.workflow)
    gone = weakref.ref(run.workflow)
    del run
    gc.collect()
    assert gone() is None


def spiff_restore_tasks(registry: DefaultRegistry, mapping: dict[str, Any], workflow: Any) -> dict[UUID, Any]:
    """Spiff's own task restore: its ``mapping_from_dict`` through the registry's ``TaskConverter``."""
    return {UUID(key): registry.restore(dct, workflow=workflow) for key, dct in mapping.items()}


def restored(workflow: BpmnWorkflow) -> list[Any]:
    """All a restore sets on each task of the workflow and its subprocesses; the events it waits for."""
    flows = [workflow, *workflow.subprocesses.values()]
    tasks = [
        [
            (
                key,
                t.id,
                t._parent,
                t._children,
                t.state,
                t.task_spec,
                t.last_state_change,
                t.triggered,
                t.internal_data,
                t.data,
                type(t),
                t.workflow is flow,
            )
            for key, t in flow.tasks.items()
        ]
        for flow in flows
    ]
    return [tasks, [(key, t.id) for key, t in workflow.event_manager.tasks.items()], [type(f) for f in flows]]


def restores_as_spiff_does(
    text: str, spec: Any, subprocess_specs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``loads`` with ``restore_tasks`` and with Spiff's own task restore give the same workflow."""
    ours = WorkflowCodec().loads(text, spec, subprocess_specs)
    with monkeypatch.context() as patched:
        patched.setattr(serialization, "restore_tasks", spiff_restore_tasks)
        theirs = WorkflowCodec().loads(text, spec, subprocess_specs)
    assert restored(ours) == restored(theirs)


@pytest.mark.parametrize("key", [path.name for path in bundle_dirs()])
def test_each_step_of_each_bundle_restores_task_by_task_as_spiff_restores_it(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start(key, extra=EXTRA)
    codec = WorkflowCodec()
    for _step in [None, *run.steps()]:
        text = codec.dumps(run.workflow)
        restores_as_spiff_does(text, run.definition.spec, run.definition.subprocess_specs, monkeypatch)


def test_deleted_keys_internal_data_and_waiting_events_restore_as_spiff_restores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = start("enterprise-startup", 1, extra=EXTRA)
    codec = WorkflowCodec()
    next(run.steps())
    carrying = [
        t for t in run.workflow.tasks.values() if t.parent and "fee" in t.parent.data and "fee" in t.data
    ]
    del carrying[-1].data["fee"]
    carrying[-1].data["补正"] = {"日期": date(2025, 3, 4)}
    carrying[0].internal_data["seen"] = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    text = codec.dumps(run.workflow)
    assert '"deletions":["fee"]' in text
    restores_as_spiff_does(text, run.definition.spec, run.definition.subprocess_specs, monkeypatch)
    # Waiting catching events (a message, a timer; inside a subprocess too) and subprocesses.
    spec, subprocess_specs = parsed(WAITS, "waits")
    workflow = BpmnWorkflow(spec, subprocess_specs)
    workflow.do_engine_steps()
    events = workflow.event_manager.tasks
    assert events and workflow.subprocesses
    restores_as_spiff_does(codec.dumps(workflow), spec, subprocess_specs, monkeypatch)
    spec, subprocess_specs = parsed(SUBPROCESS_DIAGRAM.decode(), "with_sub")
    workflow = BpmnWorkflow(spec, subprocess_specs)
    workflow.do_engine_steps()
    restores_as_spiff_does(codec.dumps(workflow), spec, subprocess_specs, monkeypatch)
