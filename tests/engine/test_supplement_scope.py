"""A supplement brings what the notice asked (and materials owed on a promise), nothing else.

Registration approved and the licence issued under the applicant's company name: a
supplement answering a notice that asked for one material must not rewrite the name, or
open tasks would show a company the issued licence does not name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.cases.states import Outcome
from engine.cases.views import CaseView
from engine.errors import CaseNotWaiting, InvalidInput
from engine.service import Engine
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MINI_STARTUP,
    MINI_STARTUP_DECISIONS,
    bundle_engine,
    clerk,
    start_mini_startup,
    upload,
    work_all,
)

MARKET = clerk("market-regulation")
TAX = clerk("tax")
HR = clerk("human-resources-social-security")
ARTICLES = "articles_of_association"
RENAMED = {"company_name": "上海另一家科技有限公司", "legal_rep_name": "李四"}


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "mini-startup")
    yield eng
    eng.close()


def decide(engine: Engine, case_id: int, item: str, outcome: Outcome, problems: list[dict[str, str]]) -> None:
    actor = {"business-registration": MARKET, "tax-registration": TAX, "social-insurance": HR}[item]
    [task] = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == item and t.state == "ready"]
    engine.claim(actor, task.id)
    decision = MINI_STARTUP_DECISIONS.get(item, {}) if outcome is Outcome.APPROVE else {}
    engine.complete(actor, task.id, outcome, decision, "请补正" if problems else "同意", problems)


def licensed_case_asked_for_articles(engine: Engine) -> int:
    """Registration approved (licence issued); tax returns asking only for the articles."""
    case_id = start_mini_startup(engine)  # with employees: social insurance runs too
    decide(engine, case_id, "business-registration", Outcome.APPROVE, [])
    decide(
        engine, case_id, "tax-registration", Outcome.RETURN, [{"material": ARTICLES, "message": "缺签字页"}]
    )
    decide(engine, case_id, "social-insurance", Outcome.APPROVE, [])
    return case_id


def snapshot(view: CaseView) -> dict[str, Any]:
    return {
        "status": view.status,
        "data": view.data,
        "materials": view.materials,
        "notice": view.notice,
        "timeline": [(e.kind, e.detail) for e in view.timeline],
        "tasks": [(t.item, t.state, t.round) for t in view.tasks],
    }


def test_a_notice_asking_for_one_material_does_not_let_the_supplement_rename_the_company(
    engine: Engine,
) -> None:
    case_id = licensed_case_asked_for_articles(engine)
    before = engine.get_case(APPLICANT, case_id)
    assert before.status == "awaiting_applicant"
    licence = engine.materials.certificate_data(before.outputs["business_licence"])
    assert licence["fields"]["company_name"] == MINI_STARTUP["company_name"]
    articles = upload(engine, APPLICANT, ARTICLES, b"%PDF-1.4 signed articles")

    with pytest.raises(InvalidInput) as refused:
        engine.supplement(APPLICANT, case_id, RENAMED, {ARTICLES: articles})
    assert sorted((p.where, p.rule) for p in refused.value.problems) == [
        ("company_name", "not-asked"),
        ("legal_rep_name", "not-asked"),
    ]
    assert all(p.message and p.message_en for p in refused.value.problems)
    assert snapshot(engine.get_case(APPLICANT, case_id)) == snapshot(before)

    # The asked material alone is taken; the case runs on under the name the licence holds.
    after = engine.supplement(APPLICANT, case_id, {}, {ARTICLES: articles})
    assert after.status == "running" and after.materials is not None
    assert after.materials[ARTICLES] == articles
    assert after.data is not None and after.data["company_name"] == MINI_STARTUP["company_name"]
    [tax] = [t for t in after.tasks if t.item == "tax-registration" and t.state == "ready"]
    assert engine.get_task(TAX, tax.id).fields["company_name"] == licence["fields"]["company_name"]


def test_a_field_the_notice_asked_may_change_but_an_unasked_material_may_not(engine: Engine) -> None:
    case_id = start_mini_startup(engine)  # with employees: social insurance runs too
    decide(engine, case_id, "business-registration", Outcome.APPROVE, [])
    decide(engine, case_id, "tax-registration", Outcome.APPROVE, [])
    decide(
        engine, case_id, "social-insurance", Outcome.RETURN, [{"field": "employee_count", "message": "不符"}]
    )
    articles = upload(engine, APPLICANT, ARTICLES, b"%PDF-1.4 other articles")
    with pytest.raises(InvalidInput) as refused:
        engine.supplement(APPLICANT, case_id, {"employee_count": 5}, {ARTICLES: articles})
    assert [(p.where, p.rule, p.extra["kind"]) for p in refused.value.problems] == [
        (ARTICLES, "not-asked", "material")
    ]
    view = engine.supplement(APPLICANT, case_id, {"employee_count": 5}, {})
    assert view.data is not None and view.data["employee_count"] == 5
    assert work_all(engine, case_id, MINI_STARTUP_DECISIONS) == ["social-insurance"]


def test_a_promised_material_may_come_while_the_case_runs_and_nothing_else(engine: Engine) -> None:
    data = {k: v for k, v in MINI_STARTUP.items() if k != "employee_count"} | {"has_employees": False}
    case_id = engine.start_case(APPLICANT, "mini-startup", data, {}, promised=[ARTICLES]).id
    articles = upload(engine, APPLICANT, ARTICLES, b"%PDF-1.4 promised articles")
    licence = upload(engine, APPLICANT, "business_licence", b"%PDF-1.4 a licence")
    before = snapshot(engine.get_case(APPLICANT, case_id))
    with pytest.raises(InvalidInput) as refused:
        engine.supplement(APPLICANT, case_id, RENAMED, {ARTICLES: articles, "business_licence": licence})
    assert sorted((p.where, p.rule) for p in refused.value.problems) == [
        ("business_licence", "not-asked"),
        ("company_name", "not-asked"),
        ("legal_rep_name", "not-asked"),
    ]
    with pytest.raises(InvalidInput):
        engine.supplement(APPLICANT, case_id, {"company_name": RENAMED["company_name"]}, {})
    assert snapshot(engine.get_case(APPLICANT, case_id)) == before

    kept = engine.supplement(APPLICANT, case_id, {}, {ARTICLES: articles})
    assert kept.status == "running" and kept.pending_materials == {}
    assert kept.data == before["data"]
    # Nothing is owed and no notice stands: the case awaits no supplement at all.
    with pytest.raises(CaseNotWaiting):
        engine.supplement(APPLICANT, case_id, RENAMED, {})


def test_a_notice_and_a_promise_together_take_the_asked_field_and_the_owed_material(engine: Engine) -> None:
    case_id = engine.start_case(APPLICANT, "mini-startup", MINI_STARTUP, {}, promised=[ARTICLES]).id
    decide(engine, case_id, "business-registration", Outcome.APPROVE, [])
    decide(
        engine, case_id, "tax-registration", Outcome.RETURN, [{"field": "legal_rep_name", "message": "不符"}]
    )
    decide(engine, case_id, "social-insurance", Outcome.APPROVE, [])
    articles = upload(engine, APPLICANT, ARTICLES, b"%PDF-1.4 late articles")
    with pytest.raises(InvalidInput) as refused:
        engine.supplement(APPLICANT, case_id, RENAMED, {ARTICLES: articles})
    assert [(p.where, p.rule) for p in refused.value.problems] == [("company_name", "not-asked")]
    view = engine.supplement(APPLICANT, case_id, {"legal_rep_name": "李四"}, {ARTICLES: articles})
    assert view.status == "running" and view.pending_materials == {}
    [supplemented] = [e for e in view.timeline if e.kind == "supplemented"]
    assert supplemented.detail["fields"] == ["legal_rep_name"]
    assert supplemented.detail["promises_kept"] == [ARTICLES]
