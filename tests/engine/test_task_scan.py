"""``tasks_in_state`` and ``tasks_named`` find what Spiff's tree walk finds, in the same order.

Checked three ways: a diagram built to stress the order (a subprocess beside plain tasks, a
parallel multi-instance step, nested parallel branches), every shipped bundle's examples run
through the engine with each scan compared against Spiff's walk (``get_tasks_iterator``) as it
happens, and the long-review case (200 finished instances under one parent) whose walk it
replaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

import engine.bpmn.case_workflow
import engine.bpmn.receive_tasks
import engine.bpmn.runtime
from engine.bpmn.case_workflow import CaseWorkflow
from engine.bpmn.task_scan import tasks_in_state, tasks_named
from engine.cases.states import Outcome
from engine.demo import demo_report, report_ok
from engine.time.clock import ManualClock
from tests.support.engines import APPLICANT, MONDAY, TEST_BUNDLES, make_engine
from tests.support.long_cases import BUNDLE, DATA, DESK, ready_task

NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
STRESS = f"""<bpmn:definitions {NS} id="d" targetNamespace="t">
  <bpmn:process id="stress" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="plain"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="sub"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="many"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="inner_split"/>
    <bpmn:userTask id="plain"/>
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="sub_start"/>
      <bpmn:sequenceFlow id="s0" sourceRef="sub_start" targetRef="sub_split"/>
      <bpmn:parallelGateway id="sub_split"/>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_split" targetRef="sub_a"/>
      <bpmn:sequenceFlow id="s2" sourceRef="sub_split" targetRef="sub_b"/>
      <bpmn:userTask id="sub_a"/>
      <bpmn:userTask id="sub_b"/>
      <bpmn:sequenceFlow id="s3" sourceRef="sub_a" targetRef="sub_join"/>
      <bpmn:sequenceFlow id="s4" sourceRef="sub_b" targetRef="sub_join"/>
      <bpmn:parallelGateway id="sub_join"/>
      <bpmn:sequenceFlow id="s5" sourceRef="sub_join" targetRef="sub_end"/>
      <bpmn:endEvent id="sub_end"/>
    </bpmn:subProcess>
    <bpmn:userTask id="many">
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopCardinality>3</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:parallelGateway id="inner_split"/>
    <bpmn:sequenceFlow id="f5" sourceRef="inner_split" targetRef="deep_a"/>
    <bpmn:sequenceFlow id="f6" sourceRef="inner_split" targetRef="deep_b"/>
    <bpmn:userTask id="deep_a"/>
    <bpmn:userTask id="deep_b"/>
    <bpmn:sequenceFlow id="f7" sourceRef="plain" targetRef="join"/>
    <bpmn:sequenceFlow id="f8" sourceRef="sub" targetRef="join"/>
    <bpmn:sequenceFlow id="f9" sourceRef="many" targetRef="join"/>
    <bpmn:sequenceFlow id="f10" sourceRef="deep_a" targetRef="join"/>
    <bpmn:sequenceFlow id="f11" sourceRef="deep_b" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f12" sourceRef="join" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
STATES = (TaskState.READY, TaskState.WAITING, TaskState.READY | TaskState.WAITING)


def same_as_the_walk(workflow: BpmnWorkflow) -> None:
    """Every definite filter, with and without ``manual``, answers as ``get_tasks``."""
    for state in STATES:
        for manual in (None, True, False):
            walked = [t.id for t in workflow.get_tasks_iterator(state=state, manual=manual)]
            assert [t.id for t in tasks_in_state(workflow, state, manual=manual)] == walked, (state, manual)


def named_as_the_walk(workflow: BpmnWorkflow) -> int:
    """Every spec's name, asked of the workflow and of each subprocess, answers as ``get_tasks``;
    the number of tasks found."""
    found = 0
    for flow in (workflow, *workflow.subprocesses.values()):
        for name in {t.task_spec.name for t in flow.get_tasks_iterator()} | {"no-such-task"}:
            walked = [t.id for t in flow.get_tasks_iterator(spec_name=name)]
            named = [t.id for t in tasks_named(flow, name)]
            assert named == walked, name
            assert [t.id for t in flow.get_tasks(spec_name=name)] == walked, name  # the class's answer
            found += len(named)
    return found


def stress_workflow(kind: type[BpmnWorkflow] = BpmnWorkflow) -> BpmnWorkflow:
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(STRESS.encode()), filename="stress.bpmn")
    return kind(parser.get_spec("stress"), parser.get_subprocess_specs("stress"))


def test_the_order_of_the_walk_with_a_subprocess_a_parallel_multi_instance_and_nested_branches() -> None:
    workflow = stress_workflow()
    workflow.do_engine_steps()
    ready = tasks_in_state(workflow, TaskState.READY, manual=True)
    assert len(ready) == 8  # plain, sub_a, sub_b, three instances of many, deep_a, deep_b
    same_as_the_walk(workflow)
    while ready:  # finish them one by one, from the last, checking after every step
        ready[-1].run()
        workflow.do_engine_steps()
        same_as_the_walk(workflow)
        ready = tasks_in_state(workflow, TaskState.READY, manual=True)
    assert workflow.is_completed()


def test_finished_states_are_refused() -> None:
    workflow = stress_workflow()
    with pytest.raises(ValueError, match="definite states"):
        tasks_in_state(workflow, TaskState.COMPLETED)
    with pytest.raises(ValueError, match="definite states"):
        tasks_in_state(workflow, TaskState.READY | TaskState.FUTURE)


@pytest.fixture
def checked_scans(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The engine's scans (by state and by spec name), each compared with the walk as it runs; yields how
    many tasks each found."""
    compared: list[int] = []

    def checked(workflow: BpmnWorkflow, state: int, *, manual: bool | None = None) -> list[Any]:
        found = tasks_in_state(workflow, state, manual=manual)
        walked = workflow.get_tasks_iterator(state=state, manual=manual)  # Spiff's walk, whatever the class
        assert [t.id for t in found] == [t.id for t in walked]
        compared.append(len(found))
        return found

    def checked_named(workflow: BpmnWorkflow, name: str) -> list[Any]:
        found = tasks_named(workflow, name)
        walked = workflow.get_tasks_iterator(spec_name=name)
        assert [t.id for t in found] == [t.id for t in walked]
        compared.append(len(found))
        return found

    monkeypatch.setattr(engine.bpmn.runtime, "tasks_in_state", checked)
    monkeypatch.setattr(engine.bpmn.receive_tasks, "tasks_in_state", checked)
    monkeypatch.setattr(engine.bpmn.case_workflow, "tasks_named", checked_named)
    yield compared


@pytest.mark.slow
def test_every_shipped_bundle_scans_as_it_walks(checked_scans: list[int], tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = make_engine(f"sqlite:///{tmp_path / 'scan.db'}", tmp_path, clock)
    try:
        engine.deploy_shipped()
        assert report_ok(demo_report(engine, clock))
    finally:
        engine.close()
    assert len(checked_scans) > 500 and max(checked_scans) > 1  # many scans, some finding several tasks


def test_a_long_case_scans_as_it_walks(checked_scans: list[int], tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'long.db'}", tmp_path, ManualClock(MONDAY))
    try:
        engine.deployments.deploy_dir(TEST_BUNDLES / BUNDLE)
        case = engine.start_case(APPLICANT, BUNDLE, DATA, {}).id
        for _ in range(30):
            task = ready_task(engine, case)
            engine.claim(DESK, task)
            engine.complete(DESK, task, Outcome.APPROVE, {})
    finally:
        engine.close()
    assert len(checked_scans) >= 60


def test_a_spec_s_tasks_are_found_as_the_walk_finds_them_at_every_step() -> None:
    """What a parallel gateway asks of its workflow as each input arrives (``get_tasks(spec_name=...)``)."""
    workflow = stress_workflow(CaseWorkflow)
    workflow.do_engine_steps()
    seen = [named_as_the_walk(workflow)]
    ready = tasks_in_state(workflow, TaskState.READY, manual=True)
    while ready:  # the joins (in the subprocess and at the end) fill one input at a time
        ready[len(ready) // 2].run()
        workflow.do_engine_steps()
        seen.append(named_as_the_walk(workflow))
        ready = tasks_in_state(workflow, TaskState.READY, manual=True)
    assert workflow.is_completed()
    assert len(seen) == 9 and max(seen) > 20  # a step per ready task, every task found each time
