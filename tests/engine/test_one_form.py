"""One form (一表申请) on shipped bundles: each element once, all problems at once, minimal views."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.bpmn.manifest import form_request
from engine.cases.states import Outcome
from engine.errors import InvalidInput
from engine.service import Engine
from engine.storage.settings import shipped_processes_dir
from forms.catalog import load_catalog
from forms.merge import merge_form
from tests.bundles.shipped import bundle_keys
from tests.bundles.shipped import manifest as shipped_manifest
from tests.support.engines import ANALYST, APPLICANT, clerk, make_engine, upload, work_all

STARTUP = "enterprise-startup"
# GB 11643 weights and check characters, written from the standard's text.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(body: str) -> str:
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path)
    eng.deployments.deploy_dir(shipped_processes_dir() / STARTUP)
    yield eng
    eng.close()


def example(engine: Engine, index: int = 0) -> dict[str, Any]:
    return dict(engine.bundle_detail(STARTUP).examples[index])


def apply(engine: Engine, data: dict[str, Any], kinds: list[str]) -> int:
    materials = {kind: upload(engine, APPLICANT, kind) for kind in kinds}
    return engine.start_case(APPLICANT, STARTUP, data, materials).id


def test_the_enterprise_startup_form_asks_the_legal_representatives_id_once(engine: Engine) -> None:
    detail = engine.bundle_detail(STARTUP)
    items = detail.manifest["items"]
    asking = [item["key"] for item in items if "legal_rep_id" in item.get("fields", [])]
    assert len(asking) >= 4
    properties = list(detail.form["properties"])
    assert properties.count("legal_rep_id") == 1
    laid_out = [f["key"] for group in detail.layout for f in group["fields"]]
    assert laid_out == properties
    # Every element any two items share is asked once, and nothing else is added.
    asked = {f for item in items for f in item.get("fields", [])} - {
        f for item in items for f in item.get("decision_fields", [])
    }
    assert sorted(properties) == sorted(asked)
    # Grouped as an applicant thinks: the enterprise first, then its legal representative.
    groups = [group["key"] for group in detail.layout]
    assert groups.index("enterprise") < groups.index("legal_representative")


@pytest.mark.parametrize("key", bundle_keys())
def test_every_shipped_bundle_merges_into_one_valid_form(key: str) -> None:
    manifest = shipped_manifest(key)
    form = merge_form(load_catalog(), form_request(manifest))
    assert len(form.fields) == len(set(form.fields))
    Draft202012Validator.check_schema(form.json_schema)
    validator = Draft202012Validator(form.json_schema)
    for sample in manifest.examples:
        assert form.validate(sample.data, sample.materials) == [], sample.name.zh
        assert validator.is_valid(sample.data)
    # A conditional field is required by the schema exactly when its condition holds.
    for name, rule in manifest.conditions.items():
        if name not in form.fields:
            continue
        for sample in manifest.examples:
            answers = {k: v for k, v in sample.data.items() if k != name}
            assert validator.is_valid(answers) is not form.asked(name, answers), (name, rule)


def test_wrong_check_digits_and_formats_are_rejected_all_in_one_answer(engine: Engine) -> None:
    data = {
        **example(engine)["data"],
        "legal_rep_id": "310115198503120419",  # the example's ID with its check digit changed
        "legal_rep_phone": "1381661234",  # ten digits
        "address_division": "990115",  # no such province
        "company_type": "corporation",  # not an option
        "registered_capital": -5,
    }
    with pytest.raises(InvalidInput) as caught:
        apply(engine, data, ["articles_of_association"])
    found = {(p.where, p.rule) for p in caught.value.problems}
    assert found == {
        ("legal_rep_id", "check_digit"),
        ("legal_rep_phone", "format"),
        ("address_division", "division"),
        ("company_type", "enum"),
        ("registered_capital", "minimum"),
        ("premises_proof", "missing"),
    }
    form = engine.form_for(STARTUP)
    for problem in caught.value.problems:
        assert problem.message and problem.message_en and problem.rule
        if problem.extra.get("kind") == "field":
            assert problem.message.startswith(form.element(problem.where).zh)
            assert problem.message_en.startswith(form.element(problem.where).en)
    assert engine.list_cases(APPLICANT).items == ()


def test_an_id_whose_birth_date_cannot_be_is_refused(engine: Engine) -> None:
    sample = example(engine)
    for body, why in (
        ("31011519850230041", "30 February"),
        ("31011521990101041", "born in the future"),
    ):
        data = {**sample["data"], "legal_rep_id": with_check_digit(body)}
        with pytest.raises(InvalidInput) as caught:
            apply(engine, data, list(sample["materials"]))
        assert [(p.where, p.rule) for p in caught.value.problems] == [("legal_rep_id", "birth_date")], why


def test_a_clerks_task_holds_only_its_items_fields_and_materials(engine: Engine) -> None:
    sample = example(engine)
    case_id = apply(engine, sample["data"], list(sample["materials"]))
    decisions = sample["decisions"]
    [registration] = engine.get_case(ANALYST, case_id).tasks
    market = clerk("market-regulation")
    engine.claim(market, registration.id)
    engine.complete(market, registration.id, Outcome.APPROVE, decisions["business-registration"], "同意")

    manifest = shipped_manifest(STARTUP)
    case_data = {**sample["data"], **decisions["business-registration"]}
    case = engine.get_case(ANALYST, case_id)
    case_materials = case.materials or {}
    assert set(case_materials) == {*sample["materials"], "business_licence"}
    open_tasks = [t for t in case.tasks if t.state == "ready"]
    assert len(open_tasks) >= 4
    for task in open_tasks:
        item = manifest.item(task.item)
        detail = engine.get_task(clerk(task.department), task.id)
        own = set(item.fields) | set(item.decision_fields)
        assert set(detail.fields) == {name for name in own if name in case_data}, task.item
        assert detail.materials == {k: case_materials[k] for k in item.materials if k in case_materials}
        assert "business_licence" in detail.materials, task.item  # issued at registration
        others = {f for i in manifest.items for f in i.fields} - own
        assert not others & set(detail.fields), task.item
    [seal] = [t for t in open_tasks if t.item == "seal-engraving"]
    detail = engine.get_task(clerk("public-security"), seal.id)
    assert detail.fields["legal_rep_id"] == sample["data"]["legal_rep_id"]  # declared by the item
    for withheld in ("address", "registered_capital", "bank_name", "employee_count", "business_scope"):
        assert withheld not in detail.fields


@pytest.mark.parametrize("index", [0, 1])
def test_the_route_and_the_asked_fields_follow_the_same_answers(engine: Engine, index: int) -> None:
    sample = example(engine, index)
    form = engine.form_for(STARTUP)
    hiring = bool(sample["data"]["has_employees"])
    assert form.asked("employee_count", sample["data"]) is hiring
    case_id = apply(engine, sample["data"], list(sample["materials"]))
    done = work_all(engine, case_id, sample["decisions"])
    assert sorted(done) == sorted(sample["route"])
    insured = {"social-insurance-registration", "medical-insurance-registration", "housing-fund-registration"}
    assert (insured <= set(done)) is hiring
    assert engine.get_case(APPLICANT, case_id).status == "completed"


def test_a_hiring_company_must_say_how_many_it_employs(engine: Engine) -> None:
    sample = example(engine)
    data = {k: v for k, v in sample["data"].items() if k != "employee_count"}
    with pytest.raises(InvalidInput) as caught:
        apply(engine, {**data, "has_employees": True}, list(sample["materials"]))
    [problem] = caught.value.problems
    assert (problem.where, problem.rule) == ("employee_count", "required")
    assert "是否招用员工" in problem.message
    assert apply(engine, {**data, "has_employees": False}, list(sample["materials"])) > 0
