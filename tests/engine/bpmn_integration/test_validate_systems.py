"""`onething validate` on department systems' elements: what it accepts and what it still refuses, and why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.bpmn.validation.bpmn_file import validate_bpmn_file
from engine.bpmn.validation.bundle import validate_bundle_dir, validate_bundle_files
from engine.bpmn.validation.report import Report
from tests.engine.bpmn_integration.helpers import BUNDLES, bundle_files

Files = dict[str, bytes]
BPMN = "process.bpmn"
YAML = "bundle.yaml"
CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'


def where(report: Report) -> set[tuple[str, str, str]]:
    """(file, element, rule) of every problem."""
    return {(p.file, p.element, p.rule) for p in report.problems}


def edit(bundle: str, *changes: tuple[str, str, str]) -> Files:
    """A test bundle's files with text replaced: (file, old, new), each old text present once."""
    files = bundle_files(bundle)
    for name, old, new in changes:
        text = files[name].decode()
        assert text.count(old) == 1, (name, old)
        files[name] = text.replace(old, new).encode()
    return files


@pytest.mark.parametrize("bundle", ["external-tax", "birth-messages", "error-routing", "same-message"])
def test_bundles_with_external_tasks_and_messages_pass_and_run(bundle: str) -> None:
    report = validate_bundle_dir(BUNDLES / bundle)
    assert report.problems == () and report.unsupported == ()
    assert report.runnable and "routes" in report.checked


TAX_TASK = '<bpmn:serviceTask id="register_tax" name="涉税事项" camunda:taskPriority="5"/>'


def tax_task(attributes: str) -> tuple[str, str, str]:
    """The tax service task with other attributes."""
    return (BPMN, TAX_TASK, f'<bpmn:serviceTask id="register_tax" name="涉税事项" {attributes}/>')


MUTATIONS: dict[str, tuple[Callable[[], Files], set[tuple[str, str, str]]]] = {
    "handled_by that is neither clerk nor system": (
        lambda: edit("external-tax", (YAML, "handled_by: system", "handled_by: robot")),
        {(YAML, "items.1.handled_by", "schema")},
    ),
    "a service task bound by a clerk's item": (
        lambda: edit("external-tax", (YAML, "    handled_by: system\n", "")),
        {(YAML, "items[tax-registration]", "item-task-system")},
    ),
    "handled_by system naming a user task": (
        lambda: edit(
            "external-tax",
            (YAML, "    decision_fields: [uscc]\n", "    decision_fields: [uscc]\n    handled_by: system\n"),
        ),
        {(YAML, "items[business-registration]", "item-task-missing")},
    ),
    "a system's service task in another department's lane": (
        lambda: edit(
            "external-tax",
            (BPMN, "<bpmn:flowNodeRef>register_tax</bpmn:flowNodeRef>", ""),
            (
                BPMN,
                "<bpmn:flowNodeRef>register_business</bpmn:flowNodeRef>",
                "<bpmn:flowNodeRef>register_business</bpmn:flowNodeRef>"
                "<bpmn:flowNodeRef>register_tax</bpmn:flowNodeRef>",
            ),
        ),
        {(YAML, "items[tax-registration]", "item-lane")},
    ),
    "a system's service task in no lane": (
        lambda: edit("external-tax", (BPMN, "<bpmn:flowNodeRef>register_tax</bpmn:flowNodeRef>", "")),
        {(BPMN, "register_tax", "lane-missing")},
    ),
    "an item topic that differs from camunda:topic": (
        lambda: edit(
            "external-tax",
            tax_task('camunda:topic="tax-core"'),
            (YAML, "    handled_by: system\n", "    handled_by: system\n    topic: tax-system\n"),
        ),
        {(YAML, "items[tax-registration].topic", "item-topic")},
    ),
    "a topic on a clerk's item": (
        lambda: edit(
            "external-tax",
            (YAML, "    decision_fields: [uscc]\n", "    decision_fields: [uscc]\n    topic: market\n"),
        ),
        {(YAML, "items[business-registration].topic", "item-topic")},
    ),
    "a task priority that is no integer": (
        lambda: edit("external-tax", tax_task('camunda:taskPriority="urgent"')),
        {(BPMN, "register_tax", "service-priority")},
    ),
    "an external task without a topic": (
        lambda: edit("error-routing", (BPMN, 'camunda:topic="credit"', "")),
        {(BPMN, "check_credit", "service-topic")},
    ),
    "a message reference to no message": (
        lambda: edit("birth-messages", (BPMN, 'messageRef="Msg_paid"', 'messageRef="Msg_nowhere"')),
        {(BPMN, "paid", "message-ref")},
    ),
    "a message event without a message": (
        lambda: edit("birth-messages", (BPMN, ' messageRef="Msg_noted"', "")),
        {(BPMN, "note_end", "message-ref")},
    ),
    "a receive task without a message": (
        lambda: edit("birth-messages", (BPMN, ' messageRef="Msg_confirm"', "")),
        {(BPMN, "receive_confirmation", "message-ref")},
    ),
    "a message without a name": (
        lambda: edit("birth-messages", (BPMN, 'name="account-request"', "")),
        {(BPMN, "notify_bank", "message-name")},
    ),
    "an example route that leaves out the system's receive task": (
        lambda: edit(
            "birth-messages",
            (YAML, "route: [birth-certificate, household-registration]", "route: [household-registration]"),
        ),
        {(YAML, "examples[0].route", "example-route")},
    ),
}


def test_an_external_task_no_item_binds_runs_and_is_no_step_of_a_route() -> None:
    files = edit(
        "error-routing",
        (
            YAML,
            """  - key: credit-check
    name: {zh: 征信核查, en: Credit check}
    department: development-reform
    task: check_credit
    time_limit_days: 1
    fields: [company_name]
    handled_by: system
""",
            "",
        ),
        (YAML, "route: [credit-check, review, registry-lookup]", "route: [review, registry-lookup]"),
    )
    report = validate_bundle_files(files, "upload")
    assert report.problems == () and report.runnable and "routes" in report.checked


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_one_change_is_named_exactly(name: str) -> None:
    make, expected = MUTATIONS[name]
    report = validate_bundle_files(make(), "upload")
    assert where(report) == expected, sorted(where(report))
    assert report.unsupported == ()
    assert all(p.message and p.message_en for p in report.problems)


REFUSALS: dict[str, tuple[Callable[[], Files], str]] = {
    "a Java class": (
        lambda: edit("external-tax", tax_task(f'{CAMUNDA} camunda:class="org.example.Tax"')),
        "camunda:class",
    ),
    "an expression": (
        lambda: edit("external-tax", tax_task(f'{CAMUNDA} camunda:expression="${{tax.run()}}"')),
        "camunda:expression",
    ),
    "a delegate expression": (
        lambda: edit("external-tax", tax_task(f'{CAMUNDA} camunda:delegateExpression="${{taxDelegate}}"')),
        "camunda:delegateExpression",
    ),
    "another camunda:type": (
        lambda: edit("external-tax", tax_task(f'{CAMUNDA} camunda:type="connector"')),
        'camunda:type="connector"',
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_a_service_task_the_engine_would_call_itself_is_refused_even_for_a_system_item(name: str) -> None:
    make, what = REFUSALS[name]
    report = validate_bundle_files(make(), "upload")
    assert not report.runnable
    assert report.unsupported == (f"register_tax (serviceTask {what})",)
    (refusal,) = [p for p in report.problems if p.rule == "bpmn-unsupported"]
    assert "external" in refusal.message_en and "handled_by: system" in refusal.message


def test_a_connector_is_refused_as_behaviour_the_engine_would_skip() -> None:
    files = edit(
        "external-tax",
        (
            BPMN,
            TAX_TASK,
            f'<bpmn:serviceTask id="register_tax" name="涉税事项" {CAMUNDA}><bpmn:extensionElements>'
            "<camunda:connector><camunda:connectorId>http-connector</camunda:connectorId></camunda:connector>"
            "</bpmn:extensionElements></bpmn:serviceTask>",
        ),
    )
    report = validate_bundle_files(files, "upload")
    assert report.unsupported == ("register_tax (extension connector)",)


STILL_REFUSED = {
    "signal": (
        '<bpmn:messageEventDefinition id="Def_noted" messageRef="Msg_noted"/>',
        '<bpmn:signalEventDefinition id="Def_noted"/>',
        "note_end (signalEventDefinition)",
    ),
    "escalation": (
        '<bpmn:messageEventDefinition id="Def_noted" messageRef="Msg_noted"/>',
        '<bpmn:escalationEventDefinition id="Def_noted"/>',
        "note_end (escalationEventDefinition)",
    ),
    "compensation": (
        '<bpmn:messageEventDefinition id="Def_noted" messageRef="Msg_noted"/>',
        '<bpmn:compensateEventDefinition id="Def_noted"/>',
        "note_end (compensateEventDefinition)",
    ),
    "a correlation property": (
        '<bpmn:message id="Msg_paid" name="fee-paid"/>',
        '<bpmn:message id="Msg_paid" name="fee-paid"/><bpmn:correlationProperty id="child_id" name="child"/>',
        "child_id (correlationProperty)",
    ),
}


@pytest.mark.parametrize("name", sorted(STILL_REFUSED))
def test_what_stays_unsupported_is_still_named_with_its_reason(name: str) -> None:
    old, new, named = STILL_REFUSED[name]
    report = validate_bundle_files(edit("birth-messages", (BPMN, old, new)), "upload")
    assert not report.runnable
    assert report.unsupported == (named,)


def test_a_message_start_inside_a_sub_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sub.bpmn"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="t">
  <bpmn:message id="Msg" name="go"/>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="inner_start">
        <bpmn:messageEventDefinition id="Def" messageRef="Msg"/>
      </bpmn:startEvent>
      <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="inner_end"/>
      <bpmn:endEvent id="inner_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
""",
        encoding="utf-8",
    )
    report = validate_bpmn_file(path)
    assert report.unsupported == ("inner_start (message startEvent in a subProcess)",)


def lone(tmp_path: Path, service: str) -> Report:
    """A lone file whose one task is the given service task."""
    path = tmp_path / "lone.bpmn"
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {CAMUNDA}
                  id="D" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    {service}
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
""",
        encoding="utf-8",
    )
    return validate_bpmn_file(path)


def test_a_lone_file_runs_an_external_task_with_a_topic_and_no_lane(tmp_path: Path) -> None:
    report = lone(tmp_path, '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="credit"/>')
    assert report.problems == () and report.runnable


def test_a_lone_file_cannot_bind_a_plain_service_task(tmp_path: Path) -> None:
    report = lone(tmp_path, '<bpmn:serviceTask id="work"/>')
    assert {p.rule for p in report.problems} == {"service-unbound"} and report.unsupported == ()
    assert "handled_by: system" in report.problems[0].message_en
