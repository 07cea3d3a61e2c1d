"""External tasks at the Runner: service tasks wait for a department's system, and its BPMN errors
reach only the error boundary events of that task."""

from __future__ import annotations

import pytest

from engine.bpmn.definitions import load_definition
from engine.bpmn.runtime import TaskKind
from engine.errors import DefinitionError, TaskNotReady
from tests.engine.bpmn_integration.helpers import (
    CODEC,
    bundle_files,
    completed,
    definition,
    only,
    roundtrip,
    runner,
)

APPLICATION = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}


def test_a_service_task_waits_for_the_system_with_topic_and_priority_and_completes_like_a_user_task() -> None:
    bundle = definition("external-tax")
    run = runner()
    workflow = run.start(bundle, APPLICATION)
    run.complete(workflow, only(run.ready_tasks(workflow), "register_business").spiff_id, {"uscc": "U1"})
    (tax,) = run.ready_tasks(workflow)
    # A plain service task bound by a handled_by: system item: the topic is the department key.
    assert (tax.name, tax.kind, tax.topic, tax.priority, tax.lane) == (
        "register_tax",
        TaskKind.EXTERNAL,
        "tax",
        5,
        "tax",
    )
    assert tax.kind == "external"
    # Engine steps never run it (SpiffWorkflow's ServiceTask would call the script engine's call_service).
    workflow.do_engine_steps()
    assert [t.spiff_id for t in run.ready_tasks(workflow)] == [tax.spiff_id]
    run.complete(workflow, tax.spiff_id, {"tax_no": "T-1"})
    assert run.is_completed(workflow) and not run.ended_in_rejection(workflow)
    assert run.data(workflow)["tax_no"] == "T-1"


def test_a_human_task_says_it_is_human() -> None:
    run = runner()
    (task,) = run.ready_tasks(run.start(definition("external-tax"), APPLICATION))
    assert (task.kind, task.topic, task.priority) == (TaskKind.HUMAN, None, 0)


def test_topic_comes_from_camunda_topic_else_the_item_topic_else_the_department() -> None:
    routing = definition("error-routing")
    assert routing.external_topic("check_credit") == "credit"  # camunda:topic
    assert routing.external_topic("lookup") == "registry"  # the item's topic
    assert definition("external-tax").external_topic("register_tax") == "tax"  # the department
    assert routing.external_topic("review") is None
    assert routing.is_external("check_credit") and not routing.is_external("review")
    assert not routing.is_external("nowhere")


def test_a_waiting_external_task_survives_a_save_and_restore_and_completes_after() -> None:
    bundle = definition("error-routing")
    run = runner()
    workflow = run.start(bundle, APPLICATION)
    before = sorted(run.ready_tasks(workflow), key=lambda t: t.name)
    restored = roundtrip(run, workflow, bundle)
    assert sorted(run.ready_tasks(restored), key=lambda t: t.name) == before
    credit = only(before, "check_credit")
    assert (credit.kind, credit.topic, credit.priority) == (TaskKind.EXTERNAL, "credit", 10)
    run.complete(restored, credit.spiff_id, {"credit_ok": True})
    run.complete(restored, only(run.ready_tasks(restored), "review").spiff_id, {})
    restored = roundtrip(run, restored, bundle)
    lookup = only(run.ready_tasks(restored), "lookup")
    assert (lookup.kind, lookup.topic) == (TaskKind.EXTERNAL, "registry")
    run.complete(restored, lookup.spiff_id, {})
    assert run.is_completed(restored) and "end" in completed(restored)


def test_a_bpmn_error_with_the_boundary_code_takes_the_boundary_route_with_its_variables() -> None:
    bundle = definition("external-tax")
    run = runner()
    workflow = run.start(bundle, APPLICATION)
    run.complete(workflow, only(run.ready_tasks(workflow), "register_business").spiff_id, {"uscc": "U1"})
    (tax,) = run.ready_tasks(workflow)
    variables = {"refusal": {"reason": "欠税", "items": [1]}}
    assert run.throw_error(workflow, tax.spiff_id, "TAX_REFUSED", "纳税人有欠税", variables)
    variables["refusal"]["reason"] = "changed by the caller afterwards"
    assert run.ready_tasks(workflow) == []
    assert run.is_completed(workflow) and run.ended_in_rejection(workflow)
    assert {"tax_refused", "rejected_by_tax"} <= completed(workflow) and "end" not in completed(workflow)
    data = run.data(workflow)
    assert data["refusal"] == {"reason": "欠税", "items": [1]}  # a copy, top-level
    assert "纳税人有欠税" not in str(data)  # the error message is the caller's record, not case data


def test_an_uncaught_bpmn_error_answers_false_and_leaves_the_workflow_as_it_was() -> None:
    bundle = definition("external-tax")
    run = runner()
    workflow = run.start(bundle, APPLICATION)
    run.complete(workflow, only(run.ready_tasks(workflow), "register_business").spiff_id, {"uscc": "U1"})
    (tax,) = run.ready_tasks(workflow)
    before = CODEC.dumps(workflow)
    assert not run.throw_error(workflow, tax.spiff_id, "SOMETHING_ELSE", "?", {"x": 1})
    assert CODEC.dumps(workflow) == before
    assert run.ready_tasks(workflow) == [tax]


def test_an_error_reaches_only_the_boundary_events_of_the_task_that_threw_it() -> None:
    bundle = definition("error-routing")
    run = runner()
    workflow = run.start(bundle, APPLICATION)
    credit = only(run.ready_tasks(workflow), "check_credit")
    # The clerk's review in the other branch has a catch-all error boundary waiting: SpiffWorkflow's
    # own event routing would let it catch this; the credit task's boundary catches CREDIT_BAD only.
    before = CODEC.dumps(workflow)
    assert not run.throw_error(workflow, credit.spiff_id, "OTHER", "", {})
    assert CODEC.dumps(workflow) == before
    assert {t.name for t in run.ready_tasks(workflow)} == {"check_credit", "review"}
    assert run.throw_error(workflow, credit.spiff_id, "CREDIT_BAD", "征信不良", {"score": 3})
    assert "credit_bad" in completed(workflow) and "review_failed" not in completed(workflow)
    assert run.is_completed(workflow)  # the refusal's end terminates the case


def test_a_catch_all_error_boundary_catches_any_code_after_a_restore() -> None:
    bundle = definition("error-routing")
    run = runner()
    workflow = run.start(bundle, APPLICATION)
    run.complete(workflow, only(run.ready_tasks(workflow), "check_credit").spiff_id, {})
    run.complete(workflow, only(run.ready_tasks(workflow), "review").spiff_id, {})
    workflow = roundtrip(run, workflow, bundle)
    lookup = only(run.ready_tasks(workflow), "lookup")
    assert run.throw_error(workflow, lookup.spiff_id, "ANY_CODE", "", {"why": "down"})
    assert {"lookup_error", "lookup_failed"} <= completed(workflow) and "end" not in completed(workflow)
    assert run.is_completed(workflow) and run.data(workflow)["why"] == "down"


def test_only_a_ready_external_task_throws_errors() -> None:
    bundle = definition("error-routing")
    run = runner()
    workflow = run.start(bundle, APPLICATION)
    review = only(run.ready_tasks(workflow), "review")
    with pytest.raises(TaskNotReady):
        run.throw_error(workflow, review.spiff_id, "CREDIT_BAD", "", {})
    credit = only(run.ready_tasks(workflow), "check_credit")
    run.complete(workflow, credit.spiff_id, {})
    with pytest.raises(TaskNotReady):
        run.throw_error(workflow, credit.spiff_id, "CREDIT_BAD", "", {})


def test_a_task_priority_that_is_no_integer_is_a_definition_error() -> None:
    files = bundle_files("external-tax")
    files["process.bpmn"] = files["process.bpmn"].replace(
        b'camunda:taskPriority="5"', b'camunda:taskPriority="high"'
    )
    with pytest.raises(DefinitionError, match="taskPriority"):
        load_definition(files)


def test_multi_instance_service_task_instances_are_external_and_errors_reach_the_activity_boundary() -> None:
    files = bundle_files("external-tax")
    looped = (
        '<bpmn:serviceTask id="register_tax" name="涉税事项" camunda:taskPriority="5">'
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>"
    )
    files["process.bpmn"] = (
        files["process.bpmn"]
        .decode()
        .replace('<bpmn:serviceTask id="register_tax" name="涉税事项" camunda:taskPriority="5"/>', looped)
        .encode()
    )
    bundle = load_definition(files)
    run = runner()
    workflow = run.start(bundle, APPLICATION)
    run.complete(workflow, only(run.ready_tasks(workflow), "register_business").spiff_id, {})
    instances = run.ready_tasks(workflow)
    assert [(t.name, t.kind, t.topic, t.priority) for t in instances] == [
        ("register_tax", TaskKind.EXTERNAL, "tax", 5)
    ] * 2
    run.complete(workflow, instances[0].spiff_id, {})
    assert run.throw_error(workflow, instances[1].spiff_id, "TAX_REFUSED", "", {})
    assert run.ready_tasks(workflow) == [] and run.ended_in_rejection(workflow)
