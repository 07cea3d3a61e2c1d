"""Prefill (智能预填) from earlier cases and issued certificates, marked with its source."""

from __future__ import annotations

from forms.catalog import Catalog
from forms.merge import MergedForm, merge_form
from forms.prefill import PrefillSource, prefill, prefilled_values
from forms.spec import FormItem, FormRequest
from tests.forms.builders import GB_EXAMPLE_ID, VALID_USCC

LICENCE = PrefillSource(
    "营业执照(证照编号 DZZZ1)",
    "Business licence (no. DZZZ1)",
    {
        "company_name": "北京一件事科技有限公司",
        "uscc": VALID_USCC,
        "legal_rep_name": "王小明",
        "address": "北京市朝阳区建国路88号",
        "registered_capital": 100,
    },
    "certificate",
)


def change_form(catalog: Catalog) -> MergedForm:
    """企业信息变更: a later bundle where the company already holds its licence and credit code."""
    item = FormItem(
        "change-registration",
        "变更登记",
        "Change registration",
        "market-regulation",
        ("company_name", "uscc", "legal_rep_name", "legal_rep_id", "address", "email"),
        ("articles_of_association",),
    )
    return merge_form(catalog, FormRequest(items=(item,)))


def test_a_certificate_prefills_the_fields_it_carries_and_marks_them(catalog: Catalog) -> None:
    form = change_form(catalog)
    filled = prefill(form, [LICENCE])
    assert list(filled) == [
        "company_name",
        "uscc",
        "address",
        "legal_rep_name",
    ]  # form order, form fields only
    assert filled["uscc"].value == VALID_USCC
    assert filled["uscc"].kind == "certificate"
    assert filled["uscc"].source_label_zh.startswith("营业执照")
    assert "registered_capital" not in filled  # not a field of this form


def test_a_certificate_outranks_an_earlier_case_and_later_sources_win(catalog: Catalog) -> None:
    form = change_form(catalog)
    old_case = PrefillSource(
        "办件 #1", "Case #1", {"company_name": "旧名称有限公司", "email": "old@example.cn"}, "case"
    )
    new_case = PrefillSource(
        "办件 #7", "Case #7", {"email": "new@example.cn", "legal_rep_id": GB_EXAMPLE_ID}, "case"
    )
    filled = prefill(form, [LICENCE, old_case, new_case])
    assert filled["company_name"].value == "北京一件事科技有限公司"
    assert filled["company_name"].kind == "certificate"
    assert filled["email"].value == "new@example.cn"
    assert filled["legal_rep_id"].source_label_en == "Case #7"
    assert prefilled_values(filled)["email"] == "new@example.cn"


def test_invalid_values_and_clerk_decisions_are_never_prefilled(
    catalog: Catalog, startup_form: MergedForm
) -> None:
    stale = PrefillSource(
        "办件 #2", "Case #2", {"legal_rep_id": "110105194912310021", "email": "nope"}, "case"
    )
    assert prefill(change_form(catalog), [stale]) == {}
    # In enterprise startup the credit code is assigned by a clerk, so it is never prefilled.
    assert "uscc" not in prefill(startup_form, [LICENCE])
