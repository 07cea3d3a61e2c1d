"""Department views: a clerk sees only the fields and materials of the item in hand."""

from __future__ import annotations

from forms.merge import MergedForm
from tests.forms.builders import school_data, startup_data

MATERIAL_IDS = {
    "articles_of_association": "mat_a",
    "premises_proof": "mat_b",
    "legal_rep_id_card": "mat_c",
    "business_licence": "mat_d",
}


def test_a_clerks_view_holds_only_its_items_fields_and_materials(startup_form: MergedForm) -> None:
    case_data = {**startup_data(), "uscc": "91350100M000100Y43", "social_insurance_no": "SI123456"}
    view = startup_form.department_view("seal-engraving", case_data, MATERIAL_IDS)
    assert view.department == "public-security"
    assert list(view.fields) == ["company_name", "seal_set", "legal_rep_name", "legal_rep_id", "uscc"]
    assert view.materials == {"legal_rep_id_card": "mat_c", "business_licence": "mat_d"}
    # Not the phone, the capital, the bank or another department's decision.
    for withheld in ("legal_rep_phone", "registered_capital", "bank_name", "social_insurance_no"):
        assert withheld not in view.fields
    assert view.hidden == (len(case_data) - len(view.fields)) + 2


def test_a_clerk_sees_its_own_decision_once_made(startup_form: MergedForm) -> None:
    before = startup_form.department_view("business-registration", startup_data(), MATERIAL_IDS)
    assert "uscc" not in before.fields
    after = startup_form.department_view(
        "business-registration", {**startup_data(), "uscc": "91350100M000100Y43"}, MATERIAL_IDS
    )
    assert after.fields["uscc"] == "91350100M000100Y43"
    assert set(after.materials) == {"articles_of_association", "premises_proof", "legal_rep_id_card"}


def test_the_education_clerk_does_not_see_housing_documents_or_the_guardians_id(
    school_form: MergedForm,
) -> None:
    data = school_data(household_location="non_local", housing_type="rented")
    materials = {"household_register": "m1", "lease_registration": "m2", "birth_certificate": "m3"}
    view = school_form.department_view("school-assignment", data, materials)
    assert "guardian_id" not in view.fields and "residence_address" not in view.fields
    assert view.materials == {"birth_certificate": "m3"}
