"""Cases run across department queues durably, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.bpmn.definitions import read_bundle_dir
from engine.cases.states import Outcome
from engine.errors import AlreadyClaimed, CaseNotFound, InvalidInput, TaskNotReady, WorkItemNotFound
from engine.people.actors import Actor
from engine.service import Engine
from engine.storage.models import Case, CaseEvent, WorkItem
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MINI_STARTUP,
    MINI_STARTUP_DECISIONS,
    OTHER_APPLICANT,
    TEST_BUNDLES,
    bundle_engine,
    clerk,
    make_engine,
    start_mini_startup,
    work_all,
)

VALID = MINI_STARTUP
DECISIONS = MINI_STARTUP_DECISIONS


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "mini-startup")
    yield eng
    eng.close()


def test_a_case_runs_through_department_queues_to_completed(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    first = engine.get_case(APPLICANT, case_id)
    assert first.status == "running"
    assert [(t.item, t.department, t.state) for t in first.tasks] == [
        ("business-registration", "market-regulation", "ready")
    ]
    assert first.tasks[0].due_at is not None and first.tasks[0].due_at > first.created_at

    done = work_all(engine, case_id, DECISIONS)
    assert done[0] == "business-registration"
    assert sorted(done[1:]) == ["social-insurance", "tax-registration"]
    final = engine.get_case(APPLICANT, case_id)
    assert final.status == "completed"
    assert final.finished_at is not None
    assert "business_licence" in final.outputs
    kinds = [e.kind for e in final.timeline]
    assert kinds[0] == "submitted" and kinds[-1] == "completed"
    assert kinds.count("approved") == 3 and "certificate_issued" in kinds


def test_the_route_follows_the_applicants_answers(engine: Engine) -> None:
    case_id = start_mini_startup(
        engine, {**{k: v for k, v in VALID.items() if k != "employee_count"}, "has_employees": False}
    )
    done = work_all(engine, case_id, DECISIONS)
    assert sorted(done) == ["business-registration", "tax-registration"]
    assert engine.get_case(APPLICANT, case_id).status == "completed"


def test_parallel_tasks_of_different_departments_are_open_at_the_same_time(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    reg = engine.get_case(ANALYST, case_id).tasks[0]
    engine.claim(clerk("market-regulation"), reg.id)
    engine.complete(clerk("market-regulation"), reg.id, Outcome.APPROVE, DECISIONS["business-registration"])
    tax_queue = engine.list_tasks(clerk("tax"))
    hr_queue = engine.list_tasks(clerk("human-resources-social-security"))
    assert [t.item for t in tax_queue.items] == ["tax-registration"]
    assert [t.item for t in hr_queue.items] == ["social-insurance"]
    assert engine.list_tasks(clerk("public-security")).items == ()


def test_a_queue_count_agrees_with_the_queue_and_stops_at_its_cap(engine: Engine) -> None:
    for _ in range(3):
        start_mini_startup(engine)
    market = clerk("market-regulation")
    listed = engine.list_tasks(market).items
    assert len(listed) == 3
    assert engine.count_tasks(market) == (3, False)
    assert engine.count_tasks(market, cap=2) == (2, True)
    assert engine.count_tasks(market, cap=3) == (3, False)
    engine.claim(market, listed[0].id)
    assert engine.count_tasks(market, state="ready") == (2, False)
    assert engine.count_tasks(market, state="claimed", assignee="me") == (1, False)
    assert engine.count_tasks(market, overdue=True) == (0, False)
    # Nothing of another department's queue, as with the list itself.
    assert engine.count_tasks(clerk("tax")) == (0, False)
    assert engine.count_tasks(market, department="tax") == (0, False)
    assert engine.count_tasks(ANALYST, department="market-regulation") == (3, False)


def test_all_problems_of_an_application_come_back_at_once(engine: Engine) -> None:
    bad = {**VALID, "legal_rep_id": "110105194912310021", "employee_count": "many", "unknown_field": 1}
    with pytest.raises(InvalidInput) as caught:
        engine.start_case(APPLICANT, "mini-startup", bad, {})
    where = {p.where for p in caught.value.problems}
    assert {"legal_rep_id", "employee_count", "articles_of_association"} <= where
    assert len(caught.value.problems) >= 4


def test_a_claimed_task_cannot_be_claimed_or_completed_by_another_clerk(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    task = engine.get_case(ANALYST, case_id).tasks[0]
    alice, bob = clerk("market-regulation", "alice"), clerk("market-regulation", "bob")
    engine.claim(alice, task.id)
    with pytest.raises(AlreadyClaimed):
        engine.claim(bob, task.id)
    with pytest.raises(TaskNotReady):
        engine.complete(bob, task.id, Outcome.APPROVE, DECISIONS["business-registration"])
    engine.unclaim(alice, task.id)
    engine.claim(bob, task.id)
    engine.complete(bob, task.id, Outcome.APPROVE, DECISIONS["business-registration"])
    with pytest.raises(TaskNotReady):
        engine.complete(bob, task.id, Outcome.APPROVE, DECISIONS["business-registration"])


def test_nobody_sees_what_is_not_theirs(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    task = engine.get_case(ANALYST, case_id).tasks[0]
    with pytest.raises(CaseNotFound):
        engine.get_case(OTHER_APPLICANT, case_id)
    with pytest.raises(CaseNotFound):
        engine.get_case(clerk("tax"), case_id)  # no task of the tax office yet
    with pytest.raises(WorkItemNotFound):
        engine.claim(clerk("tax"), task.id)
    assert engine.list_cases(OTHER_APPLICANT).items == ()
    clerk_view = engine.get_case(clerk("market-regulation"), case_id)
    assert clerk_view.data is None and clerk_view.materials is None


def test_the_clerk_sees_only_the_fields_and_materials_of_the_item(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    reg = engine.get_case(ANALYST, case_id).tasks[0]
    engine.claim(clerk("market-regulation"), reg.id)
    engine.complete(clerk("market-regulation"), reg.id, Outcome.APPROVE, DECISIONS["business-registration"])
    hr_task = engine.list_tasks(clerk("human-resources-social-security")).items[0]
    detail = engine.get_task(clerk("human-resources-social-security"), hr_task.id)
    assert set(detail.fields) <= {"company_name", "employee_count", "social_insurance_no"}
    assert "legal_rep_id" not in detail.fields
    assert set(detail.materials) == {"business_licence"}
    assert detail.decision_fields == ("social_insurance_no",)


def test_the_workflow_state_survives_a_restart_of_the_process(db_url: str, tmp_path: Path) -> None:
    first = bundle_engine(db_url, tmp_path, "mini-startup")
    case_id = start_mini_startup(first)
    reg = first.get_case(ANALYST, case_id).tasks[0]
    first.claim(clerk("market-regulation"), reg.id)
    first.complete(clerk("market-regulation"), reg.id, Outcome.APPROVE, DECISIONS["business-registration"])
    first.close()
    second = make_engine(db_url, tmp_path)  # nothing cached: state comes from the database
    work_all(second, case_id, DECISIONS)
    assert second.get_case(APPLICANT, case_id).status == "completed"
    second.close()


def test_every_change_is_in_the_audit_trail(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    work_all(engine, case_id, DECISIONS)
    with engine.db.read() as s:
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
        items = s.scalars(select(WorkItem).where(WorkItem.case_id == case_id)).all()
        case = s.get(Case, case_id)
    by_kind: dict[str, int] = {}
    for e in events:
        by_kind[e.kind] = by_kind.get(e.kind, 0) + 1
    assert by_kind["task_created"] == len(items) == 3
    assert by_kind["claimed"] == by_kind["approved"] == 3
    assert case is not None and case.status == "completed"


def test_a_task_names_the_version_its_case_runs_on(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    [task] = engine.list_tasks(clerk("market-regulation")).items
    assert task.version == engine.get_case(APPLICANT, case_id).version == 1


def test_deciding_a_finished_task_is_a_conflict_whatever_the_data(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    market = clerk("market-regulation")
    [task] = engine.get_case(ANALYST, case_id).tasks
    engine.claim(market, task.id)
    engine.complete(market, task.id, Outcome.APPROVE, DECISIONS["business-registration"])
    with pytest.raises(TaskNotReady):
        engine.complete(market, task.id, Outcome.APPROVE, {"uscc": "not a credit code"})


def test_an_involved_clerk_does_not_read_what_other_departments_wrote(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    market = clerk("market-regulation")
    [registration] = engine.get_case(ANALYST, case_id).tasks
    engine.claim(market, registration.id)
    engine.complete(market, registration.id, Outcome.APPROVE, DECISIONS["business-registration"])
    tax = clerk("tax")
    [tax_task] = engine.list_tasks(tax).items
    engine.claim(tax, tax_task.id)
    engine.complete(tax, tax_task.id, Outcome.RETURN, {}, "法定代表人身份证复印件不清晰，请重新上传")
    seen_by_market = engine.get_case(market, case_id)
    assert seen_by_market.data is None and seen_by_market.notice is None
    returned = next(t for t in seen_by_market.tasks if t.id == tax_task.id)
    assert returned.outcome == "return" and returned.comment == ""
    assert all("comment" not in e.detail and "problems" not in e.detail for e in seen_by_market.timeline)
    # The clerk who wrote it, the applicant and the analyst still read it.
    assert next(t for t in engine.get_case(tax, case_id).tasks if t.id == tax_task.id).comment
    for reader in (APPLICANT, ANALYST):
        assert next(t for t in engine.get_case(reader, case_id).tasks if t.id == tax_task.id).comment


def test_deployments_are_immutable_versions_and_running_cases_stay_on_theirs(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    files = read_bundle_dir(TEST_BUNDLES / "mini-startup")
    unchanged = engine.deploy_files(files, "analyst")
    assert (unchanged.version, unchanged.created) == (1, False)
    changed = dict(files)
    changed["bundle.yaml"] = files["bundle.yaml"].replace(b"time_limit_days: 1", b"time_limit_days: 2", 1)
    assert changed != files
    second = engine.deploy_files(changed, "analyst")
    assert (second.version, second.created) == (2, True)
    assert engine.deploy_files(changed, "analyst").version == 2  # the same content again: no new version
    assert engine.get_case(APPLICANT, case_id).version == 1
    assert engine.get_case(APPLICANT, start_mini_startup(engine)).version == 2
    work_all(engine, case_id, DECISIONS)
    assert engine.get_case(APPLICANT, case_id).status == "completed"


def _engine_asking_social_insurance_no_when(db_url: str, tmp_path: Path, condition: str) -> Engine:
    """An engine whose mini-startup asks the social-insurance number only under ``condition``."""
    folder = tmp_path / "mini-startup"
    shutil.copytree(TEST_BUNDLES / "mini-startup", folder)
    manifest = folder / "bundle.yaml"
    text = manifest.read_text(encoding="utf-8")
    line = "  employee_count: {has_employees: true}\n"
    manifest.write_text(text.replace(line, f"{line}  social_insurance_no: {condition}\n"), encoding="utf-8")
    engine = make_engine(db_url, tmp_path)
    engine.deployments.deploy_dir(folder)
    return engine


def _claimed_social_insurance_task(engine: Engine, hr: Actor, capital: int = 100) -> int:
    """Start a case, approve its registration, and let ``hr`` claim the social-insurance task."""
    case_id = start_mini_startup(engine, {**VALID, "registered_capital": capital})
    (registration,) = engine.get_case(ANALYST, case_id).tasks
    market = clerk("market-regulation")
    engine.claim(market, registration.id)
    engine.complete(market, registration.id, Outcome.APPROVE, DECISIONS["business-registration"])
    (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == "social-insurance"]
    engine.claim(hr, task.id)
    return task.id


def test_a_decision_field_asked_by_the_application_is_asked_and_checked_against_the_whole_case(
    db_url: str, tmp_path: Path
) -> None:
    # The social-insurance clerk's number is asked only of companies with this capital, an
    # answer outside that clerk's view of the case.
    engine = _engine_asking_social_insurance_no_when(db_url, tmp_path, "{registered_capital: [100]}")
    hr = clerk("human-resources-social-security")
    asked = _claimed_social_insurance_task(engine, hr, capital=100)
    detail = engine.get_task(hr, asked)
    assert "registered_capital" not in detail.fields
    assert detail.asked_decision_fields == ("social_insurance_no",)
    with pytest.raises(InvalidInput) as caught:
        engine.complete(hr, asked, Outcome.APPROVE, {})
    assert [p.where for p in caught.value.problems] == ["social_insurance_no"]
    engine.complete(hr, asked, Outcome.APPROVE, {"social_insurance_no": "SI00002"})

    not_asked = _claimed_social_insurance_task(engine, hr, capital=200)
    assert engine.get_task(hr, not_asked).asked_decision_fields == ()
    assert engine.complete(hr, not_asked, Outcome.APPROVE, {}).state == "completed"
    engine.close()


def test_a_decision_field_asked_by_an_earlier_decision_is_checked_on_completion(
    db_url: str, tmp_path: Path
) -> None:
    # The social-insurance number is asked only when the registration clerk's decision (the
    # credit code) has a given value: the completion must see that earlier decision.
    uscc = DECISIONS["business-registration"]["uscc"]
    engine = _engine_asking_social_insurance_no_when(db_url, tmp_path, f"{{uscc: [{uscc}]}}")
    hr = clerk("human-resources-social-security")
    task = _claimed_social_insurance_task(engine, hr)
    assert engine.get_task(hr, task).asked_decision_fields == ("social_insurance_no",)
    with pytest.raises(InvalidInput) as caught:
        engine.complete(hr, task, Outcome.APPROVE, {})
    assert [p.where for p in caught.value.problems] == ["social_insurance_no"]
    done = engine.complete(hr, task, Outcome.APPROVE, {"social_insurance_no": "SI00002"})
    assert done.state == "completed"
    engine.close()


def test_a_queue_pages_by_due_time_and_id_without_losing_or_repeating_tasks(engine: Engine) -> None:
    for _ in range(5):
        start_mini_startup(engine)
    market = clerk("market-regulation")
    whole = [t.id for t in engine.list_tasks(market, limit=50).items]
    assert len(whole) == 5
    seen: list[int] = []
    page = engine.list_tasks(market, limit=2)
    pages = 1
    while True:
        seen.extend(t.id for t in page.items)
        if pages == 1:
            start_mini_startup(engine)  # a task queued while paging lands after the ones seen
        if page.next is None:
            break
        page = engine.list_tasks(market, limit=2, cursor=page.next)
        pages += 1
    assert len(seen) == len(set(seen)) == 6 and seen[:5] == whole
    keys = [(t.due_at, t.id) for t in engine.list_tasks(market, limit=50).items]
    assert keys == sorted(keys)
    with pytest.raises(InvalidInput):
        engine.list_tasks(market, cursor="not-a-cursor")
