"""Merging the items of a bundle into one form (一表申请)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from forms.catalog import Catalog
from forms.errors import FormConflict, UnknownItem
from forms.merge import MergedForm, merge_form
from forms.spec import FormItem, FormRequest
from tests.forms.builders import school_data, startup_data, startup_request


def test_startup_form_asks_each_shared_element_once(startup_form: MergedForm) -> None:
    items_needing_id = [i.key for i in startup_request().items if "legal_rep_id" in i.fields]
    assert len(items_needing_id) == 4
    assert startup_form.fields.count("legal_rep_id") == 1
    assert len(startup_form.fields) == len(set(startup_form.fields))
    laid_out = [f["key"] for group in startup_form.layout for f in group["fields"]]
    assert laid_out == list(startup_form.fields)
    assert list(startup_form.json_schema["properties"]) == list(startup_form.fields)


def test_decision_fields_are_not_asked_of_the_applicant(startup_form: MergedForm) -> None:
    # The credit code is assigned at registration, though four later items need it.
    assert "uscc" not in startup_form.fields
    assert "uscc" in startup_form.decided
    assert "social_insurance_no" not in startup_form.json_schema["properties"]


def test_fields_are_ordered_by_group_then_first_appearance(
    startup_form: MergedForm, catalog: Catalog
) -> None:
    orders = [catalog.group_order(catalog.elements[name].group) for name in startup_form.fields]
    assert orders == sorted(orders)
    assert [g["key"] for g in startup_form.layout] == [
        "enterprise",
        "legal_representative",
        "employment",
        "finance",
    ]
    enterprise = [f["key"] for f in startup_form.layout[0]["fields"]]
    assert enterprise[:3] == ["company_name", "company_type", "address"]


def test_json_schema_is_valid_draft_2020_12_with_titles_and_conditions(startup_form: MergedForm) -> None:
    schema = startup_form.json_schema
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "企业开办一件事"
    assert schema["properties"]["legal_rep_id"]["title"] == "法定代表人身份证号"
    assert schema["properties"]["legal_rep_id"]["x-title-en"] == "Legal representative's ID number"
    assert "employee_count" not in schema["required"]
    rule = {
        "if": {"properties": {"has_employees": {"enum": [True]}}, "required": ["has_employees"]},
        "then": {"required": ["employee_count"]},
    }
    assert rule in schema["allOf"]
    validator = Draft202012Validator(schema)
    assert validator.is_valid(startup_data())
    without_count = {k: v for k, v in startup_data().items() if k != "employee_count"}
    assert not validator.is_valid(without_count)
    assert validator.is_valid({**without_count, "has_employees": False})


def test_layout_carries_labels_options_and_conditions(school_form: MergedForm) -> None:
    fields = {f["key"]: f for group in school_form.layout for f in group["fields"]}
    relation = fields["guardian_relation"]
    assert relation["zh"] == "与儿童关系" and relation["en"] == "Relation to the child"
    assert relation["options"][0] == {"value": "father", "zh": "父亲", "en": "Father"}
    assert relation["required"] is True
    assert fields["child_id"]["class"] == "sensitive"
    assert fields["child_id"]["format"] == "resident-id"


def test_every_merge_problem_is_reported_at_once(catalog: Catalog) -> None:
    items = (
        FormItem(
            "a",
            "甲",
            "A",
            "tax",
            ("company_name", "no_such_field"),
            ("no_such_material",),
            (),
            ("premises_proof",),
        ),
        FormItem("a", "甲", "A", "tax", ("company_name",), ("business_licence",), decision_fields=("uscc",)),
    )
    request = FormRequest(
        items=items,
        conditions={
            "company_name": {"ghost_field": True},
            "unknown_target": {"company_name": "x"},
            "business_licence": {"uscc": "91350100M000100Y43"},
        },
        exemptions={"articles_of_association": ("", "")},
        promises={"business_licence": 0},
    )
    with pytest.raises(FormConflict) as caught:
        merge_form(catalog, request)
    found = {(p.where, p.rule) for p in caught.value.problems}
    assert ("items[a].fields", "unknown_key") in found
    assert ("items[a].materials", "unknown_key") in found
    assert ("items[a].outputs", "not_certificate") in found
    assert ("items[a]", "duplicate") in found
    assert ("conditions.company_name", "unknown_field") in found
    assert ("conditions.unknown_target", "unknown_key") in found
    assert ("conditions.business_licence", "unknown_field") in found  # depends on a clerk's decision
    assert ("exemptions.articles_of_association", "unknown_key") in found
    assert ("exemptions.articles_of_association", "schema") in found
    assert ("promises.business_licence", "schema") in found
    assert all(p.message and p.message_en for p in caught.value.problems)


def test_condition_values_must_fit_the_field_and_cycles_are_refused(catalog: Catalog) -> None:
    item = FormItem(
        "x", "甲", "A", "education", ("household_location", "housing_type", "residence_address"), ()
    )
    request = FormRequest(
        items=(item,),
        conditions={
            "residence_address": {"household_location": "elsewhere"},
            "housing_type": {"household_location": "local", "residence_address": "某地址"},
            "household_location": {"housing_type": "owned"},
        },
    )
    with pytest.raises(FormConflict) as caught:
        merge_form(catalog, request)
    rules = [p.rule for p in caught.value.problems]
    assert "condition_value" in rules
    assert "cycle" in rules


def test_an_unknown_item_key_is_an_error(startup_form: MergedForm) -> None:
    with pytest.raises(UnknownItem):
        startup_form.decision_fields("no-such-item")
    assert startup_form.decision_fields("business-registration") == ("uscc",)
    assert startup_form.outputs("business-registration") == ("business_licence",)


def test_relevant_data_drops_answers_of_fields_not_asked(
    startup_form: MergedForm, school_form: MergedForm
) -> None:
    no_staff = {**startup_data(), "has_employees": False}
    assert "employee_count" not in startup_form.relevant_data(no_staff)
    assert startup_form.relevant_data(startup_data())["employee_count"] == 5
    data = school_data(extra="x")
    assert school_form.relevant_data(data) == {k: v for k, v in data.items() if k != "extra"}
