"""Messages from department systems reach the one waiting case, start cases, or get Camunda's answers.

A real database per test (SQLite and PostgreSQL), the ``birth-wait`` bundle: a case applied
for waits for the hospital's ``certificate-issued`` before the police register the child,
then tells the bank by a send task (``household-registered``); a ``birth-record`` message
starts a case by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.messages import Correlation
from engine.cases.states import Outcome
from engine.errors import EngineError, MessageAmbiguous, MessageNotCorrelated, NotAllowed
from engine.people.accounts import AccountService
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import MessageWait
from tests.support.engines import ANALYST, APPLICANT, OTHER_APPLICANT, clerk, make_engine

BUNDLE = Path(__file__).resolve().parent / "bundles" / "birth-wait"
POLICE_SYSTEM = Actor("system.public-security", Role.SYSTEM, frozenset({"public-security"}))
TAX_SYSTEM = Actor("system.tax", Role.SYSTEM, frozenset({"tax"}))
BIRTH = {"child_name": "李小明", "newborn_birth_date": "2025-01-02", "birth_hospital": "上海市第一妇婴保健院"}
NONE_MATCHES = "Cannot correlate message '{}': No process definition or execution matches the parameters"


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path)
    eng.deployments.deploy_dir(BUNDLE)
    yield eng
    eng.close()


def apply(engine: Engine, actor: Actor = APPLICANT, bundle: str = "birth-wait", **changes: Any) -> int:
    """A case of ``birth-wait`` (now waiting for the hospital's certificate), or of ``bundle``."""
    return engine.start_case(actor, bundle, {**BIRTH, **changes}, {}).id


def waits(engine: Engine, case_id: int) -> list[str]:
    with engine.db.read() as s:
        return sorted(s.scalars(select(MessageWait.name).where(MessageWait.case_id == case_id)))


def test_a_message_with_the_case_code_reaches_that_case_and_it_moves_on(engine: Engine) -> None:
    first, second = apply(engine), apply(engine)
    code = engine.get_case(APPLICANT, second).code
    assert code is not None and waits(engine, second) == ["certificate-issued"]

    result = engine.correlate_message(
        POLICE_SYSTEM, "certificate-issued", business_key=code, process_variables={"certificate_no": "Y1"}
    )

    assert result == [Correlation("Execution", second, code, "birth-wait", 1)]
    case = engine.get_case(APPLICANT, second)
    assert [(t.item, t.state) for t in case.tasks] == [("household-registration", "ready")]
    line = next(e for e in case.timeline if e.kind == "message_correlated")
    assert (line.actor, line.detail) == (
        "system.public-security",
        {"name": "certificate-issued", "variables": ["certificate_no"]},
    )
    assert waits(engine, second) == [] and waits(engine, first) == ["certificate-issued"]
    assert engine.get_case(APPLICANT, first).tasks == ()


def test_the_case_id_as_text_is_a_business_key_too(engine: Engine) -> None:
    case_id = apply(engine)
    result = engine.correlate_message(POLICE_SYSTEM, "certificate-issued", business_key=str(case_id))
    assert [(r.kind, r.case_id) for r in result] == [("Execution", case_id)]


def test_a_message_nobody_waits_for_gets_camundas_answer(engine: Engine) -> None:
    case_id = apply(engine)
    with pytest.raises(MessageNotCorrelated) as caught:
        engine.correlate_message(POLICE_SYSTEM, "no-such-message", business_key=str(case_id))
    assert caught.value.message == NONE_MATCHES.format("no-such-message")
    # The right message for a case that does not exist (an unknown code) is no match either.
    with pytest.raises(MessageNotCorrelated):
        engine.correlate_message(POLICE_SYSTEM, "certificate-issued", business_key="19990101-unknown")
    assert waits(engine, case_id) == ["certificate-issued"]


def test_the_same_message_twice_reaches_the_case_once(engine: Engine) -> None:
    case_id = apply(engine)
    engine.correlate_message(POLICE_SYSTEM, "certificate-issued", business_key=str(case_id))
    with pytest.raises(MessageNotCorrelated):
        engine.correlate_message(POLICE_SYSTEM, "certificate-issued", business_key=str(case_id))
    kinds = [e.kind for e in engine.get_case(ANALYST, case_id).timeline]
    assert kinds.count("message_correlated") == 1


def test_several_waiting_cases_are_ambiguous_unless_all(engine: Engine) -> None:
    first, second = apply(engine), apply(engine, child_name="王小红")
    with pytest.raises(MessageAmbiguous) as caught:
        engine.correlate_message(POLICE_SYSTEM, "certificate-issued")
    assert caught.value.message.startswith(
        "ENGINE-13031 Cannot correlate a message with name 'certificate-issued' to a single execution. "
        "2 executions match the correlation keys: CorrelationSet [businessKey=null"
    )
    assert waits(engine, first) == waits(engine, second) == ["certificate-issued"]  # nothing moved

    result = engine.correlate_message(POLICE_SYSTEM, "certificate-issued", all=True)
    assert [(r.kind, r.case_id) for r in result] == [("Execution", first), ("Execution", second)]
    # With all, nothing left to match is an empty answer, as in Camunda.
    assert engine.correlate_message(POLICE_SYSTEM, "certificate-issued", all=True) == []


def test_correlation_keys_pick_the_case_whose_answers_equal_them(engine: Engine) -> None:
    apply(engine)
    wanted = apply(engine, child_name="王小红")
    result = engine.correlate_message(
        POLICE_SYSTEM, "certificate-issued", correlation_keys={"child_name": "王小红"}
    )
    assert [r.case_id for r in result] == [wanted]
    with pytest.raises(MessageNotCorrelated):
        engine.correlate_message(POLICE_SYSTEM, "certificate-issued", correlation_keys={"child_name": "赵六"})


def test_a_message_start_event_starts_a_case_for_the_named_applicant(engine: Engine) -> None:
    AccountService(engine.db, departments={}).create("applicant2", "a-long-demo-password-2", Role.APPLICANT)
    result = engine.correlate_message(
        POLICE_SYSTEM, "birth-record", process_variables={**BIRTH, "applicant": "applicant2"}
    )

    assert [(r.kind, r.bundle) for r in result] == [("ProcessDefinition", "birth-wait")]
    case = engine.get_case(OTHER_APPLICANT, result[0].case_id)
    assert case.code == result[0].code and case.code is not None
    assert case.data == BIRTH
    assert [(t.item, t.state) for t in case.tasks] == [("household-registration", "ready")]
    lines = [(e.kind, e.actor) for e in case.timeline]
    assert lines[:2] == [("submitted", "applicant2"), ("started_by_message", "system.public-security")]


def test_a_message_start_for_an_unknown_applicant_belongs_to_the_sending_system(engine: Engine) -> None:
    result = engine.correlate_message(
        POLICE_SYSTEM, "birth-record", process_variables={**BIRTH, "applicant": "nobody-here"}
    )
    case = engine.get_case(ANALYST, result[0].case_id)
    assert case.applicant == "system.public-security"


def test_a_waiting_case_is_preferred_to_a_message_start(engine: Engine) -> None:
    """Camunda tries waiting executions first; a start event only when none waits."""
    # ``birth-record`` starts cases; no case waits for it, so each message starts one.
    one = engine.correlate_message(POLICE_SYSTEM, "birth-record", process_variables=BIRTH)
    two = engine.correlate_message(POLICE_SYSTEM, "birth-record", process_variables=BIRTH)
    assert one[0].case_id != two[0].case_id and one[0].code != two[0].code


def test_a_thrown_message_goes_onto_the_spine_as_message_sent(engine: Engine) -> None:
    case_id = apply(engine)
    engine.correlate_message(POLICE_SYSTEM, "certificate-issued", business_key=str(case_id))
    task = engine.get_case(ANALYST, case_id).tasks[0]
    police = clerk("public-security")
    engine.claim(police, task.id)
    engine.complete(police, task.id, Outcome.APPROVE, {}, "同意")

    case = engine.get_case(ANALYST, case_id)
    sent = [e for e in case.timeline if e.kind == "message_sent"]
    assert [e.detail for e in sent] == [{"name": "household-registered", "element_id": "notify_bank"}]
    assert case.status == "completed"
    assert [e.kind for e in case.timeline][-2:] == ["message_sent", "completed"]


def test_only_systems_of_a_taking_part_department_and_admins_send_messages(engine: Engine) -> None:
    case_id = apply(engine)
    with pytest.raises(NotAllowed):
        engine.correlate_message(clerk("public-security"), "certificate-issued", business_key=str(case_id))
    with pytest.raises(NotAllowed):
        engine.correlate_message(APPLICANT, "certificate-issued", business_key=str(case_id))
    # The tax office's system does not see a bundle its department takes no part in.
    with pytest.raises(MessageNotCorrelated):
        engine.correlate_message(TAX_SYSTEM, "certificate-issued", business_key=str(case_id))
    with pytest.raises(MessageNotCorrelated):
        engine.correlate_message(TAX_SYSTEM, "birth-record", process_variables=BIRTH)
    result = engine.correlate_message(Actor.system(), "certificate-issued", business_key=str(case_id))
    assert [r.case_id for r in result] == [case_id]


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_two_racing_messages_reach_one_waiting_case_once(engine: Engine) -> None:
    """Two systems deliver the same message at once: one correlates, the other finds none waiting."""
    case_id = apply(engine)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def send() -> None:
        barrier.wait()
        try:
            outcomes.append(
                engine.correlate_message(POLICE_SYSTEM, "certificate-issued", business_key=str(case_id))
            )
        except EngineError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    won = [o for o in outcomes if isinstance(o, list)]
    lost = [o for o in outcomes if isinstance(o, MessageNotCorrelated)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    case = engine.get_case(ANALYST, case_id)
    assert [e.kind for e in case.timeline].count("message_correlated") == 1
    assert len(case.tasks) == 1


def test_all_reaches_every_waiting_case_and_every_start_event(engine: Engine) -> None:
    """Camunda's correlateAll: the waiting executions and the process definitions with that start."""
    engine.deployments.deploy_dir(BUNDLE.parent / "birth-wait-and-start")
    waiting = apply(engine, bundle="birth-wait-and-start")
    result = engine.correlate_message(POLICE_SYSTEM, "birth-record", all=True, process_variables=BIRTH)
    assert [(r.kind, r.bundle) for r in result] == [
        ("Execution", "birth-wait-and-start"),
        ("ProcessDefinition", "birth-wait"),
        ("ProcessDefinition", "birth-wait-and-start"),
    ]
    assert result[0].case_id == waiting


def test_two_bundles_started_by_one_message_are_ambiguous_without_all(engine: Engine) -> None:
    engine.deployments.deploy_dir(BUNDLE.parent / "birth-wait-and-start")
    with pytest.raises(MessageAmbiguous) as caught:
        engine.correlate_message(POLICE_SYSTEM, "birth-record", process_variables=BIRTH)
    assert caught.value.message.startswith(
        "ENGINE-13030 Cannot correlate a message with name 'birth-record' to a single process definition. "
        "2 process definitions match the correlations keys: CorrelationSet [businessKey=null"
    )
    # One waiting case takes the message: Camunda tries start events only when none waits.
    waiting = apply(engine, bundle="birth-wait-and-start")
    result = engine.correlate_message(POLICE_SYSTEM, "birth-record", process_variables=BIRTH)
    assert [(r.kind, r.case_id) for r in result] == [("Execution", waiting)]
