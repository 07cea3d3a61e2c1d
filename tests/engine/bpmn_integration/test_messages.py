"""Messages at the Runner: what a workflow waits for, correlating, starting by message, and what it sends."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.runtime import OutboundMessage, Runner
from engine.errors import CaseNotWaiting
from engine.time.clock import ManualClock
from tests.engine.bpmn_integration.helpers import CODEC, completed, definition, only, roundtrip, runner

BIRTH = {"child_name": "李小明", "newborn_birth_date": "2025-01-02", "birth_hospital": "上海市第一妇婴保健院"}


def at_household(run: Runner) -> BpmnWorkflow:
    """A birth case past the certificate and the hospital's confirmation, at the household task."""
    bundle = definition("birth-messages")
    workflow = run.start(bundle, BIRTH)
    assert run.correlate(workflow, "certificate-issued", {})
    assert run.correlate(workflow, "hospital-confirmation", {"birth_certificate_no": "A123456789"})
    return workflow


def test_a_case_waits_at_its_message_catch_and_a_message_it_does_not_wait_for_changes_nothing() -> None:
    run = runner()
    workflow = run.start(definition("birth-messages"), BIRTH)
    assert run.waiting_messages(workflow) == ["certificate-issued"]
    assert run.ready_tasks(workflow) == []
    before = CODEC.dumps(workflow)
    assert not run.correlate(workflow, "hospital-confirmation", {"x": 1})
    assert not run.correlate(workflow, "no-such-message", {})
    assert CODEC.dumps(workflow) == before


def test_catch_event_and_receive_task_take_their_messages_as_top_level_copies_across_restores() -> None:
    bundle = definition("birth-messages")
    run = runner()
    workflow = roundtrip(run, run.start(bundle, BIRTH), bundle)
    certificate = {"certificate": {"no": "A123456789", "pages": [1]}}
    assert run.correlate(workflow, "certificate-issued", certificate)
    certificate["certificate"]["no"] = "changed by the caller afterwards"
    assert run.waiting_messages(workflow) == ["hospital-confirmation"]  # the receive task
    workflow = roundtrip(run, workflow, bundle)
    assert run.correlate(workflow, "hospital-confirmation", {"confirmed": True})
    assert only(run.ready_tasks(workflow), "register_household").lane == "public-security"
    data = run.data(workflow)
    assert data["certificate"] == {"no": "A123456789", "pages": [1]} and data["confirmed"] is True
    assert {"wait_certificate", "receive_confirmation"} <= completed(workflow)


def test_a_non_interrupting_message_boundary_runs_its_path_and_leaves_the_task_ready() -> None:
    run = runner()
    workflow = at_household(run)
    task = only(run.ready_tasks(workflow), "register_household")
    assert run.waiting_messages(workflow) == ["extra-info", "withdrawal"]
    run.outbound(workflow)
    assert run.correlate(workflow, "extra-info", {"note": "补充"})
    assert run.ready_tasks(workflow) == [task]
    assert "note_end" in completed(workflow)
    assert run.outbound(workflow) == [OutboundMessage("info-noted", "note_end")]
    assert "withdrawal" in run.waiting_messages(workflow)


def test_an_interrupting_message_boundary_cancels_the_task_and_ends_the_case() -> None:
    bundle = definition("birth-messages")
    run = runner()
    workflow = roundtrip(run, at_household(run), bundle)
    assert run.correlate(workflow, "withdrawal", {"reason": "撤回"})
    assert run.ready_tasks(workflow) == []
    assert run.is_completed(workflow) and run.ended_in_rejection(workflow)
    assert run.waiting_messages(workflow) == []


def test_send_task_and_message_throw_and_end_events_are_outbound_once_by_name_and_element() -> None:
    bundle = definition("birth-messages")
    run = runner()
    workflow = at_household(run)
    assert run.outbound(workflow) == []  # nothing thrown yet
    run.complete(workflow, only(run.ready_tasks(workflow), "register_household").spiff_id, {"hukou": "H1"})
    # Nothing in this workflow catches these: they wait for the caller, and running on did not fail.
    sent = run.outbound(workflow)
    assert sent == [
        OutboundMessage("household-registered", "announce"),
        OutboundMessage("account-request", "notify_bank"),
    ]
    assert run.outbound(workflow) == []
    assert [f.name for f in dataclasses.fields(OutboundMessage)] == ["name", "element_id"]  # no case data
    # The event-based gateway waits for the fee or its timer, also after a restore.
    assert run.waiting_messages(workflow) == ["fee-paid"]
    workflow = roundtrip(run, workflow, bundle)
    assert run.waiting_messages(workflow) == ["fee-paid"]
    assert run.correlate(workflow, "fee-paid", {"fee": 30})
    assert run.is_completed(workflow) and not run.ended_in_rejection(workflow)
    assert run.outbound(workflow) == [OutboundMessage("case-finished", "end")]
    assert run.data(workflow)["fee"] == 30


def test_an_outbound_message_not_yet_taken_survives_a_restore() -> None:
    bundle = definition("birth-messages")
    run = runner()
    workflow = at_household(run)
    run.complete(workflow, only(run.ready_tasks(workflow), "register_household").spiff_id, {})
    workflow = roundtrip(run, workflow, bundle)
    assert [m.element_id for m in run.outbound(workflow)] == ["announce", "notify_bank"]


def test_the_event_based_gateway_takes_the_timer_when_no_message_comes() -> None:
    clock = ManualClock(runner().clock.now())
    run = Runner(clock)
    workflow = at_household(run)
    run.complete(workflow, only(run.ready_tasks(workflow), "register_household").spiff_id, {})
    due = run.next_timer(workflow)
    assert due is not None
    clock.set(due + timedelta(seconds=1))
    run.fire_timers(workflow)
    assert run.is_completed(workflow) and run.ended_in_rejection(workflow)
    assert run.waiting_messages(workflow) == []
    assert not run.correlate(workflow, "fee-paid", {})


def test_a_message_start_event_starts_the_case_where_the_message_says() -> None:
    bundle = definition("birth-messages")
    assert bundle.message_starts == frozenset({"birth-record"})
    run = runner()
    workflow = run.start_by_message(bundle, "birth-record", {**BIRTH, "record": {"weight_g": 3200}})
    # The none start's path (waiting for the certificate) is not taken.
    assert "wait_certificate" not in completed(workflow)
    assert "certificate-issued" not in run.waiting_messages(workflow)
    assert only(run.ready_tasks(workflow), "register_household")
    assert run.data(workflow)["record"] == {"weight_g": 3200}
    workflow = roundtrip(run, workflow, bundle)
    run.complete(workflow, only(run.ready_tasks(workflow), "register_household").spiff_id, {})
    assert run.correlate(workflow, "fee-paid", {})
    assert run.is_completed(workflow)


def test_an_ordinary_start_does_not_wait_for_the_start_message() -> None:
    run = runner()
    workflow = run.start(definition("birth-messages"), BIRTH)
    assert "birth-record" not in run.waiting_messages(workflow)


def test_a_message_no_start_event_takes_starts_nothing() -> None:
    with pytest.raises(CaseNotWaiting):
        runner().start_by_message(definition("birth-messages"), "fee-paid", {})
    with pytest.raises(CaseNotWaiting):
        runner().start_by_message(definition("external-tax"), "birth-record", {})


def test_every_catcher_of_a_message_gets_its_own_copy_of_the_variables() -> None:
    bundle = definition("same-message")
    run = runner()
    workflow = run.start(bundle, {"company_name": "上海一件事科技有限公司"})
    assert run.waiting_messages(workflow) == ["go-ahead"]
    assert run.correlate(workflow, "go-ahead", {"permit": {"no": "P-1"}})
    assert {t.name for t in run.ready_tasks(workflow)} == {"first", "second"}
    # Spiff's own delivery hands both catch events one payload, so their data share its nested values.
    catchers = {t.task_spec.bpmn_id: t for t in workflow.get_tasks(state=TaskState.COMPLETED)}
    first, second = catchers["wait_first"].data["permit"], catchers["wait_second"].data["permit"]
    assert first == second == {"no": "P-1"}
    assert first is not second


def test_the_direct_save_writes_what_spiffs_own_serializer_writes_for_waits_and_pending_messages() -> None:
    # The codec writes task text itself (engine.bpmn.serialization); external tasks, message
    # catchers, an event-based gateway's seen events and outbound events not yet taken must
    # come out as Spiff's generic path writes them.
    run = runner()
    workflow = at_household(run)
    run.complete(workflow, only(run.ready_tasks(workflow), "register_household").spiff_id, {"hukou": "H1"})
    assert workflow.bpmn_events  # two outbound messages not yet taken
    assert CODEC._fast_dumps(workflow) == CODEC._generic_dumps(workflow)
    errors = definition("error-routing")
    waiting = run.start(errors, {"company_name": "x"})
    assert CODEC._fast_dumps(waiting) == CODEC._generic_dumps(waiting)
