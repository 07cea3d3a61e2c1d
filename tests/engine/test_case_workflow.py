"""``CaseWorkflow`` runs a diagram exactly as Spiff's ``BpmnWorkflow`` does, and is stored as one.

The two run side by side, in lockstep, over diagrams with every kind of task that waits: joins
of parallel and inclusive gateways, an event-based gateway (a message and a timer), a
non-interrupting timer on a user task, an embedded subprocess with its own join and a
sequential multi-instance step, a parallel multi-instance step. After every step the two trees
(each task's spec, state and data, in the walk's order, subprocesses included) are the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.case_workflow import CaseSubWorkflow, CaseWorkflow
from engine.bpmn.serialization import WorkflowCodec
from tests.engine.test_task_scan import STRESS

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
WAITS = f"""<bpmn:definitions {NS} id="d" targetNamespace="t">
  <bpmn:message id="ping" name="ping"/>
  <bpmn:process id="waits" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="fork"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:sequenceFlow id="fa" sourceRef="fork" targetRef="review"/>
    <bpmn:sequenceFlow id="fb" sourceRef="fork" targetRef="choice"/>
    <bpmn:sequenceFlow id="fc" sourceRef="fork" targetRef="sub"/>
    <bpmn:userTask id="review"/>
    <bpmn:boundaryEvent id="nudge" attachedToRef="review" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT0S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="fn" sourceRef="nudge" targetRef="noted"/>
    <bpmn:task id="noted"/>
    <bpmn:sequenceFlow id="fn2" sourceRef="noted" targetRef="nudge_end"/>
    <bpmn:endEvent id="nudge_end"/>
    <bpmn:sequenceFlow id="fr" sourceRef="review" targetRef="split"/>
    <bpmn:inclusiveGateway id="split"/>
    <bpmn:sequenceFlow id="fi1" sourceRef="split" targetRef="left">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="fi2" sourceRef="split" targetRef="right">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:userTask id="left"/>
    <bpmn:userTask id="right"/>
    <bpmn:sequenceFlow id="fi3" sourceRef="left" targetRef="merge"/>
    <bpmn:sequenceFlow id="fi4" sourceRef="right" targetRef="merge"/>
    <bpmn:inclusiveGateway id="merge"/>
    <bpmn:sequenceFlow id="fi5" sourceRef="merge" targetRef="all"/>
    <bpmn:eventBasedGateway id="choice"/>
    <bpmn:sequenceFlow id="fe1" sourceRef="choice" targetRef="pinged"/>
    <bpmn:sequenceFlow id="fe2" sourceRef="choice" targetRef="later"/>
    <bpmn:intermediateCatchEvent id="pinged">
      <bpmn:messageEventDefinition messageRef="ping"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="later">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="fe3" sourceRef="pinged" targetRef="answer"/>
    <bpmn:sequenceFlow id="fe4" sourceRef="later" targetRef="answer"/>
    <bpmn:userTask id="answer"/>
    <bpmn:sequenceFlow id="fe5" sourceRef="answer" targetRef="all"/>
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="s_start"/>
      <bpmn:sequenceFlow id="s0" sourceRef="s_start" targetRef="s_fork"/>
      <bpmn:parallelGateway id="s_fork"/>
      <bpmn:sequenceFlow id="s1" sourceRef="s_fork" targetRef="s_one"/>
      <bpmn:sequenceFlow id="s2" sourceRef="s_fork" targetRef="s_each"/>
      <bpmn:userTask id="s_one"/>
      <bpmn:userTask id="s_each">
        <bpmn:multiInstanceLoopCharacteristics isSequential="true">
          <bpmn:loopCardinality>3</bpmn:loopCardinality>
        </bpmn:multiInstanceLoopCharacteristics>
      </bpmn:userTask>
      <bpmn:sequenceFlow id="s3" sourceRef="s_one" targetRef="s_join"/>
      <bpmn:sequenceFlow id="s4" sourceRef="s_each" targetRef="s_join"/>
      <bpmn:parallelGateway id="s_join"/>
      <bpmn:sequenceFlow id="s5" sourceRef="s_join" targetRef="s_end"/>
      <bpmn:endEvent id="s_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="fs" sourceRef="sub" targetRef="all"/>
    <bpmn:parallelGateway id="all"/>
    <bpmn:sequenceFlow id="fz" sourceRef="all" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""

Pick = Callable[[list[Any]], Any]


def parsed(xml: str, process: str) -> tuple[Any, dict[str, Any]]:
    """The spec of ``process`` in ``xml`` and its subprocess specs, from Spiff's own ``BpmnParser``."""
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml.encode()), filename=f"{process}.bpmn")
    return parser.get_spec(process), parser.get_subprocess_specs(process)


def tree(workflow: BpmnWorkflow) -> list[tuple[str, str, str]]:
    """Every task, subprocesses included, in Spiff's walk: spec, state and data."""
    return [
        (t.task_spec.name, TaskState.get_name(t.state), repr(sorted(t.data.items())))
        for t in workflow.get_tasks_iterator()
    ]


def ready(workflow: BpmnWorkflow) -> list[Any]:
    return list(workflow.get_tasks_iterator(state=TaskState.READY, manual=True))


def lockstep(xml: str, process: str, pick: Pick) -> int:
    """Run Spiff's class and ours side by side to the end; the number of steps compared."""
    spec, subprocess_specs = parsed(xml, process)
    theirs = BpmnWorkflow(spec, subprocess_specs)
    ours = CaseWorkflow(spec, subprocess_specs)
    steps = 0
    for step in range(200):
        for workflow in (theirs, ours):
            workflow.do_engine_steps()
        assert tree(ours) == tree(theirs), f"trees differ after step {step}"
        steps += 1
        if theirs.is_completed():
            assert ours.is_completed()
            return steps
        waiting_for_people = ready(theirs)
        if waiting_for_people:
            chosen = pick(waiting_for_people)
            index = waiting_for_people.index(chosen)
            for task in (chosen, ready(ours)[index]):
                task.set_data(step=step, by=task.task_spec.name)
                task.run()
            continue
        for workflow in (theirs, ours):  # only the message is left to come
            message = BpmnEvent(MessageEventDefinition("ping"), payload={"pong": step})
            assert workflow.event_manager.catch(message)
    raise AssertionError("the diagram did not finish in 200 steps")


def test_a_diagram_of_every_waiting_kind_runs_the_same_taking_the_first_ready_task() -> None:
    assert lockstep(WAITS, "waits", lambda tasks: tasks[0]) > 10


def test_a_diagram_of_every_waiting_kind_runs_the_same_taking_the_last_ready_task() -> None:
    assert lockstep(WAITS, "waits", lambda tasks: tasks[-1]) > 10


def test_nested_branches_a_subprocess_and_a_parallel_multi_instance_run_the_same() -> None:
    for pick in (lambda tasks: tasks[0], lambda tasks: tasks[-1], lambda tasks: tasks[len(tasks) // 2]):
        assert lockstep(STRESS, "stress", pick) > 5


def test_a_subprocess_answers_for_its_own_tasks_as_its_walk_does() -> None:
    spec, subprocess_specs = parsed(WAITS, "waits")
    workflow = CaseWorkflow(spec, subprocess_specs)
    workflow.do_engine_steps()
    (sub,) = workflow.subprocesses.values()
    assert isinstance(sub, CaseSubWorkflow)
    for state in (TaskState.READY, TaskState.WAITING, TaskState.READY | TaskState.WAITING):
        for flow in (workflow, sub):
            walked = [t.id for t in flow.get_tasks_iterator(state=state)]
            assert [t.id for t in flow.get_tasks(state=state)] == walked
    own = {t.task_spec.name for t in sub.get_tasks(state=TaskState.READY)}
    assert own == {"s_one", "s_each [child]"}  # the first instance of the sequential step
    assert {t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY)} >= own | {"review"}


def test_a_finished_workflow_is_logged_without_the_id_of_every_task(caplog: Any) -> None:
    assert logging.getLogger("spiff.workflow").level == logging.NOTSET  # Spiff lists every id then
    spec, subprocess_specs = parsed(STRESS, "stress")
    workflow = CaseWorkflow(spec, subprocess_specs)
    extras = workflow.collect_log_extras()
    assert "tasks" not in extras and extras["workflow_spec"] == "stress"
    plain = BpmnWorkflow(spec, subprocess_specs).collect_log_extras()
    assert "tasks" in plain  # what the override leaves out


def test_a_stored_state_restores_as_the_case_classes_and_is_written_under_spiffs_names() -> None:
    codec = WorkflowCodec()
    spec, subprocess_specs = parsed(WAITS, "waits")
    plain = BpmnWorkflow(spec, subprocess_specs)
    plain.do_engine_steps()
    text = codec.dumps(plain)
    restored = codec.loads(text, spec, subprocess_specs)
    assert type(restored) is CaseWorkflow
    assert all(type(s) is CaseSubWorkflow for s in restored.subprocesses.values()) and restored.subprocesses
    again = codec.dumps(restored)
    assert again == text  # the same text: the class is not written
    assert '"typename":"BpmnWorkflow"' in again and '"typename":"BpmnSubWorkflow"' in again
