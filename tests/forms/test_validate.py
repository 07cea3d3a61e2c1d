"""Validation of an application: every problem at once (一次性告知), in Chinese and English."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from forms.merge import MergedForm
from tests.forms.builders import STARTUP_MATERIALS, school_data, startup_data


def problems_by_field(problems: list[Any]) -> dict[str, str]:
    return {p.field: p.rule for p in problems}


def test_a_complete_application_has_no_problems(startup_form: MergedForm, school_form: MergedForm) -> None:
    assert startup_form.validate(startup_data(), STARTUP_MATERIALS) == []
    assert school_form.validate(school_data(), ["household_register", "property_certificate"]) == []


def test_wrong_check_digits_and_formats_are_all_reported_in_one_answer(startup_form: MergedForm) -> None:
    data = {
        **startup_data(),
        "legal_rep_id": "110105194912310021",  # check digit wrong
        "legal_rep_phone": "2380013800",  # not a mobile number
        "address_division": "990105",  # no such province
        "registered_capital": 0,  # must be above zero
        "company_type": "corporation",  # not an option
        "employee_count": "five",  # not a number
        "legal_rep_name": "X",  # too short for a name
    }
    problems = startup_form.validate(data, STARTUP_MATERIALS)
    assert problems_by_field(problems) == {
        "legal_rep_id": "check_digit",
        "legal_rep_phone": "format",
        "address_division": "division",
        "registered_capital": "minimum",
        "company_type": "enum",
        "employee_count": "type",
        "legal_rep_name": "format",
    }
    assert len(problems) == 7  # one problem per field, not one per failed keyword
    for problem in problems:
        assert problem.kind == "field"
        assert problem.message.startswith(startup_form.element(problem.field).zh)
        assert problem.message_en.startswith(startup_form.element(problem.field).en)
    [id_problem] = [p for p in problems if p.field == "legal_rep_id"]
    assert "校验码" in id_problem.message and "check digit" in id_problem.message_en


def test_missing_fields_unknown_fields_and_missing_materials_come_together(startup_form: MergedForm) -> None:
    data = startup_data()
    del data["company_name"], data["legal_rep_id"]
    data["favourite_colour"] = "blue"
    data["uscc"] = "91350100M000100Y43"  # the clerk's to give, not the applicant's
    problems = startup_form.validate(data, ["articles_of_association"])
    found = {(p.kind, p.field, p.rule) for p in problems}
    assert found == {
        ("field", "company_name", "required"),
        ("field", "legal_rep_id", "required"),
        ("field", "favourite_colour", "unknown"),
        ("field", "uscc", "not_applicant"),
        ("material", "premises_proof", "missing"),
        ("material", "legal_rep_id_card", "missing"),
    }
    # Fields first in form order, materials after.
    assert [p.kind for p in problems][-2:] == ["material", "material"]


def test_a_conditional_field_is_required_only_when_its_condition_holds(startup_form: MergedForm) -> None:
    data = startup_data()
    del data["employee_count"]
    [problem] = startup_form.validate(data, STARTUP_MATERIALS)
    assert (problem.field, problem.rule) == ("employee_count", "required")
    assert "是否招用员工为是" in problem.message and "Hiring employees is yes" in problem.message_en
    assert startup_form.validate({**data, "has_employees": False}, STARTUP_MATERIALS) == []


def test_conditional_materials_are_asked_only_when_their_condition_holds(school_form: MergedForm) -> None:
    local_owner = school_form.validate(school_data(), ["household_register"])
    assert {p.field for p in local_owner} == {"property_certificate"}
    migrant_renter = school_data(household_location="non_local", housing_type="rented")
    problems = school_form.validate(migrant_renter, ["household_register"])
    assert {p.field for p in problems} == {
        "lease_registration",
        "residence_permit",
        "social_insurance_record",
    }
    [permit] = [p for p in problems if p.field == "residence_permit"]
    assert "随迁子女" in permit.message


def test_a_promised_material_is_accepted_only_where_the_bundle_allows_it(school_form: MergedForm) -> None:
    migrant = school_data(household_location="non_local")
    given_now = ["household_register", "property_certificate", "residence_permit"]
    assert school_form.validate(migrant, given_now, promised=["social_insurance_record"]) == []
    problems = school_form.validate(
        migrant,
        ["household_register", "property_certificate"],
        promised=["social_insurance_record", "residence_permit"],
    )
    found = {(p.field, p.rule) for p in problems}
    assert found == {("residence_permit", "promise_not_allowed"), ("residence_permit", "missing")}


def test_exempt_and_held_materials_are_not_asked(startup_form: MergedForm, school_form: MergedForm) -> None:
    # The licence is issued inside the bundle; the birth certificate is shared by the health department.
    assert "business_licence" not in {
        p.field for p in startup_form.validate(startup_data(), STARTUP_MATERIALS)
    }
    assert "birth_certificate" not in {
        p.field for p in school_form.validate(school_data(), ["household_register"])
    }
    # A certificate the applicant holds from an earlier case satisfies the same kind.
    assert school_form.validate(school_data(), ["household_register"], held=["property_certificate"]) == []


def test_materials_the_bundle_does_not_ask_for_are_reported(school_form: MergedForm) -> None:
    problems = school_form.validate(
        school_data(), ["household_register", "property_certificate", "business_licence"]
    )
    assert [(p.kind, p.field, p.rule) for p in problems] == [("material", "business_licence", "unknown")]


def test_data_that_is_not_an_object_is_one_problem(startup_form: MergedForm) -> None:
    problems = startup_form.validate(["not", "an", "object"], STARTUP_MATERIALS)  # type: ignore[arg-type]
    assert [(p.field, p.rule) for p in problems] == [("", "type")]


def test_booleans_are_not_numbers_and_numbers_are_not_booleans(startup_form: MergedForm) -> None:
    problems = startup_form.validate(
        {**startup_data(), "employee_count": True, "has_employees": 1}, STARTUP_MATERIALS
    )
    assert problems_by_field(problems) == {"employee_count": "type", "has_employees": "type"}


def test_a_clerks_decision_is_validated_against_its_items_fields(startup_form: MergedForm) -> None:
    assert startup_form.validate_decision("business-registration", {"uscc": "91350100M000100Y43"}) == []
    wrong = startup_form.validate_decision("business-registration", {"uscc": "91350100M000100Y44", "x": 1})
    assert problems_by_field(wrong) == {"uscc": "check_digit", "x": "unknown"}
    missing = startup_form.validate_decision("business-registration", {})
    assert problems_by_field(missing) == {"uscc": "required"}
    assert startup_form.validate_decision("seal-engraving", {}) == []


def test_a_conditional_decision_field_follows_the_case_data(school_form: MergedForm) -> None:
    local = school_data()
    assert school_form.validate_decision("social-insurance-check", {}, local) == []
    migrant = school_data(household_location="non_local")
    problems = school_form.validate_decision("social-insurance-check", {}, migrant)
    assert problems_by_field(problems) == {"social_insurance_months": "required"}
    assert (
        school_form.validate_decision("social-insurance-check", {"social_insurance_months": 24}, migrant)
        == []
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


form_keys = st.sampled_from(
    [
        "company_name",
        "legal_rep_id",
        "registered_capital",
        "has_employees",
        "employee_count",
        "address_division",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    data=st.dictionaries(form_keys | st.text(max_size=12), json_values, max_size=10),
    materials=st.lists(st.text(max_size=30), max_size=5),
    promised=st.lists(st.text(max_size=30), max_size=3),
)
def test_validate_never_raises_on_arbitrary_json(
    startup_form: MergedForm, data: dict[str, Any], materials: list[str], promised: list[str]
) -> None:
    problems = startup_form.validate(data, materials, promised)
    for problem in problems:
        assert problem.message and problem.message_en and problem.rule


@settings(max_examples=100, deadline=None)
@given(data=json_values)
def test_validate_never_raises_on_any_json_document(startup_form: MergedForm, data: Any) -> None:
    assert isinstance(startup_form.validate(data, []), list)
