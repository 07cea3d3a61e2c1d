"""Electronic certificates (电子证照): issued once, not asked again in this case or later ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cases.states import Outcome
from engine.errors import InvalidInput
from engine.service import Engine
from forms.prefill import prefill
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MINI_STARTUP,
    MINI_STARTUP_DECISIONS,
    OTHER_APPLICANT,
    PDF,
    bundle_engine,
    clerk,
    start_mini_startup,
    upload,
    work_all,
)

STARTUP = MINI_STARTUP
DECISIONS = MINI_STARTUP_DECISIONS
USCC = DECISIONS["business-registration"]["uscc"]
MARKET = clerk("market-regulation")

# A later bundle of the same applicant that needs the business licence: a change of address.
CHANGE_MANIFEST = """\
key: address-change
version: 1
name: {zh: 企业住所变更, en: Change of registered address}
process: process.bpmn
items:
  - key: change-registration
    name: {zh: 变更登记, en: Change registration}
    department: market-regulation
    task: change_registration
    time_limit_days: 1
    fields: [company_name, uscc, address, legal_rep_phone]
    materials: [business_licence, premises_proof]
baseline: {steps: 2, days: 5, materials: 3, trips: 2, source: test fixture}
"""
CHANGE_PROCESS = """\
<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs"
    targetNamespace="http://onething.example/test">
  <bpmn:process id="address-change" isExecutable="true">
    <bpmn:laneSet id="LaneSet">
      <bpmn:lane id="Lane_market" name="market-regulation">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>change_registration</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="change_registration"/>
    <bpmn:userTask id="change_registration" name="变更登记"/>
    <bpmn:sequenceFlow id="f2" sourceRef="change_registration" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
CHANGE = {
    "company_name": "上海一件事科技有限公司",
    "uscc": USCC,
    "address": "上海市浦东新区张江路88号",
    "legal_rep_phone": "13800138000",
}


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "mini-startup")
    eng.deploy_files(
        {"bundle.yaml": CHANGE_MANIFEST.encode(), "process.bpmn": CHANGE_PROCESS.encode()}, by="analyst"
    )
    yield eng
    eng.close()


def finished_startup(engine: Engine) -> str:
    """Run a startup case to its end; the id of the business licence it issued."""
    case_id = start_mini_startup(engine)
    work_all(engine, case_id, DECISIONS)
    final = engine.get_case(APPLICANT, case_id)
    assert final.status == "completed"
    return final.outputs["business_licence"]


def test_the_licence_is_never_asked_of_the_applicant_of_the_bundle_that_issues_it(engine: Engine) -> None:
    [entry] = [m for m in engine.bundle_detail("mini-startup").materials if m["kind"] == "business_licence"]
    assert entry["exempt"] is True and entry["required"] is False
    assert "签发" in entry["why"]["zh"] and "issued" in entry["why"]["en"]
    # The application hands in only the articles: the licence is not missing.
    case_id = start_mini_startup(engine)
    assert engine.get_case(APPLICANT, case_id).materials == {
        "articles_of_association": upload(engine, APPLICANT, "articles_of_association")
    }


def test_a_certificate_issued_in_one_step_serves_the_later_steps(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    [registration] = engine.get_case(ANALYST, case_id).tasks
    before = engine.get_task(MARKET, registration.id)
    assert "business_licence" not in before.materials
    engine.claim(MARKET, registration.id)
    engine.complete(MARKET, registration.id, Outcome.APPROVE, DECISIONS["business-registration"], "同意")

    view = engine.get_case(APPLICANT, case_id)
    licence = view.outputs["business_licence"]
    assert view.materials is not None and view.materials["business_licence"] == licence
    issued = [e for e in view.timeline if e.kind == "certificate_issued"]
    assert [(e.detail["kind"], e.detail["material_id"]) for e in issued] == [("business_licence", licence)]
    document = engine.materials.certificate_data(licence)
    assert document["fields"]["uscc"] == USCC and document["holder"] == APPLICANT.username
    # Both later departments get the certificate as their material: nobody asks the applicant for it.
    for department, item in (
        ("tax", "tax-registration"),
        ("human-resources-social-security", "social-insurance"),
    ):
        actor = clerk(department)
        [task] = engine.list_tasks(actor).items
        assert task.item == item
        assert engine.get_task(actor, task.id).materials == {"business_licence": licence}


def test_a_later_case_of_the_applicant_reuses_the_certificate(engine: Engine) -> None:
    premises = upload(engine, APPLICANT, "premises_proof")
    # Before any licence is issued, the change bundle asks for it.
    with pytest.raises(InvalidInput) as caught:
        engine.start_case(APPLICANT, "address-change", CHANGE, {"premises_proof": premises})
    assert [(p.where, p.rule) for p in caught.value.problems] == [("business_licence", "missing")]

    licence = finished_startup(engine)
    case = engine.start_case(APPLICANT, "address-change", CHANGE, {"premises_proof": premises})
    assert case.materials == {"premises_proof": premises, "business_licence": licence}
    [submitted] = [e for e in case.timeline if e.kind == "submitted"]
    assert submitted.detail["reused_certificates"] == ["business_licence"]
    [task] = engine.list_tasks(MARKET).items
    assert engine.get_task(MARKET, task.id).materials == {
        "business_licence": licence,
        "premises_proof": premises,
    }


def test_the_later_bundles_checklist_and_form_come_prefilled_from_the_certificate(engine: Engine) -> None:
    form = engine.form_for("address-change")
    [before] = [e for e in form.checklist() if e.kind == "business_licence"]
    assert before.required and not before.exempt

    finished_startup(engine)
    held = {c.kind for c in engine.materials.certificates_of(APPLICANT.username)}
    assert held == {"business_licence"}
    by_kind = {e.kind: e for e in form.checklist(CHANGE, held)}
    assert by_kind["business_licence"].exempt and not by_kind["business_licence"].required
    assert "已持有" in by_kind["business_licence"].why_zh
    assert by_kind["premises_proof"].required

    filled = prefill(form, engine.materials.certificate_sources(APPLICANT.username))
    assert filled["company_name"].value == STARTUP["company_name"]
    assert filled["uscc"].value == USCC and filled["uscc"].kind == "certificate"
    assert filled["address"].value == STARTUP["address"]
    assert "legal_rep_phone" not in filled  # the licence does not carry it


def test_another_applicant_does_not_benefit_from_someone_elses_certificate(engine: Engine) -> None:
    finished_startup(engine)
    premises = upload(engine, OTHER_APPLICANT, "premises_proof")
    with pytest.raises(InvalidInput) as caught:
        engine.start_case(OTHER_APPLICANT, "address-change", CHANGE, {"premises_proof": premises})
    assert ("business_licence", "missing") in {(p.where, p.rule) for p in caught.value.problems}
    # Nor can they name its id as their own material.
    licence = engine.materials.certificates_of(APPLICANT.username)[0].id
    with pytest.raises(InvalidInput) as named:
        engine.start_case(
            OTHER_APPLICANT,
            "address-change",
            CHANGE,
            {"premises_proof": premises, "business_licence": licence},
        )
    assert ("business_licence", "material-unknown") in {(p.where, p.rule) for p in named.value.problems}


def test_an_uploaded_licence_of_this_case_wins_over_the_held_certificate(engine: Engine) -> None:
    finished_startup(engine)
    premises = upload(engine, APPLICANT, "premises_proof")
    scanned = upload(engine, APPLICANT, "business_licence", PDF + b"scan")
    case = engine.start_case(
        APPLICANT, "address-change", CHANGE, {"premises_proof": premises, "business_licence": scanned}
    )
    assert case.materials is not None and case.materials["business_licence"] == scanned
    [submitted] = [e for e in case.timeline if e.kind == "submitted"]
    assert submitted.detail["reused_certificates"] == []


def test_wrong_check_digits_and_formats_are_all_refused_in_one_answer(engine: Engine) -> None:
    finished_startup(engine)
    bad = {**CHANGE, "uscc": USCC[:-1] + "4", "legal_rep_phone": "23800138000", "address": ""}
    with pytest.raises(InvalidInput) as caught:
        engine.start_case(APPLICANT, "address-change", bad, {})
    found = {(p.where, p.rule) for p in caught.value.problems}
    # The licence held is for the right credit code only, so a mistyped one leaves it missing too.
    assert found == {
        ("uscc", "check_digit"),
        ("legal_rep_phone", "format"),
        ("address", "min_length"),
        ("premises_proof", "missing"),
        ("business_licence", "missing"),
    }
    for problem in caught.value.problems:
        assert problem.message and problem.message_en and problem.rule
    [uscc] = [p for p in caught.value.problems if p.where == "uscc"]
    assert "统一社会信用代码" in uscc.message and "校验码" in uscc.message
    assert "check" in uscc.message_en


def test_an_applicant_with_two_companies_reuses_the_licence_of_the_one_applied_for(engine: Engine) -> None:
    first = finished_startup(engine)
    second_company = {**STARTUP, "company_name": "上海第二件事科技有限公司"}
    material = upload(engine, APPLICANT, "articles_of_association")
    case_id = engine.start_case(
        APPLICANT, "mini-startup", second_company, {"articles_of_association": material}
    ).id
    work_all(engine, case_id, {**DECISIONS, "business-registration": {"uscc": "91310115MA1K4B7C2U"}})
    second = engine.get_case(APPLICANT, case_id).outputs["business_licence"]
    assert second != first
    premises = upload(engine, APPLICANT, "premises_proof")
    case = engine.start_case(APPLICANT, "address-change", CHANGE, {"premises_proof": premises})
    assert case.materials is not None and case.materials["business_licence"] == first
