"""The materials checklist (一次告知): what to bring, what is exempt and why."""

from __future__ import annotations

from forms.merge import MergedForm
from tests.forms.builders import school_data


def test_a_certificate_issued_by_an_item_of_the_bundle_is_exempt_for_the_applicant(
    startup_form: MergedForm,
) -> None:
    entries = {e.kind: e for e in startup_form.checklist()}
    licence = entries["business_licence"]
    assert licence.exempt and not licence.required
    assert licence.issued_by == "business-registration"
    assert "设立登记" in licence.why_zh and "电子证照" in licence.why_zh
    assert "Business registration" in licence.why_en
    assert licence.items == ("seal-engraving", "tax-invoice", "social-insurance", "bank-account")
    assert licence.certificate_issuer == "market-regulation"
    id_card = entries["legal_rep_id_card"]
    assert id_card.required and not id_card.exempt
    assert id_card.items == (
        "business-registration",
        "seal-engraving",
        "bank-account",
    )  # one upload, three users


def test_the_checklist_follows_the_answers(school_form: MergedForm) -> None:
    before = {e.kind: e for e in school_form.checklist()}
    assert before["household_register"].required
    assert not before["residence_permit"].required
    assert before["residence_permit"].condition == {"household_location": ["non_local"]}
    assert before["residence_permit"].why_zh == "户籍类型为随迁子女(非本地户籍)时需要提交"
    after = {e.kind: e for e in school_form.checklist(school_data(household_location="non_local"))}
    assert after["residence_permit"].required
    assert after["social_insurance_record"].promise_days == 30


def test_exemptions_and_held_certificates_explain_themselves(school_form: MergedForm) -> None:
    entries = {e.kind: e for e in school_form.checklist(school_data(), held=["property_certificate"])}
    birth = entries["birth_certificate"]
    assert birth.exempt and birth.why_zh == "出生医学证明由卫健部门共享"
    owned = entries["property_certificate"]
    assert owned.exempt and not owned.required and "已持有" in owned.why_zh


def test_checklist_entries_serialise_for_the_api(startup_form: MergedForm) -> None:
    entry = startup_form.checklist()[0].as_dict()
    assert entry["kind"] == "articles_of_association"
    assert entry["name"] == {"zh": "公司章程", "en": "Articles of association"}
    assert entry["accept"] == ["application/pdf", "image/jpeg", "image/png"]
    assert entry["required"] is True and entry["why"] is None
