"""情形引导 in the forms package: questions from the conditions, answers read back, materials per route."""

from __future__ import annotations

from forms.catalog import Catalog
from forms.guidance import (
    MAX_QUESTIONS,
    completions,
    materials_needed,
    parse_answers,
    prefill_query,
    questions,
)
from forms.merge import MergedForm, merge_form
from forms.spec import FormItem, FormRequest

EVERY_ITEM = ("household-check", "housing-check", "social-insurance-check", "school-assignment")


def test_the_questions_are_the_choice_fields_the_conditions_read(school_form: MergedForm) -> None:
    asked = questions(school_form)
    assert [q.field for q in asked] == ["household_location", "housing_type"]
    household = asked[0]
    assert household.zh == "请选择户籍类型" and household.en == "Household registration"
    assert [(c.value, c.zh, c.en) for c in household.choices] == [
        ("local", "本地户籍", "Local"),
        ("non_local", "随迁子女(非本地户籍)", "Non-local (migrant)"),
    ]


def test_the_diagrams_fields_add_questions_and_yes_no_fields_ask_themselves(startup_form: MergedForm) -> None:
    # The conditions read has_employees; the diagram's gateways read invoice_needed (and a text field,
    # which is no question: only yes/no and choice fields are asked before the form).
    asked = questions(startup_form, {"invoice_needed", "company_name", "not_on_this_form"})
    assert [(q.field, q.zh, q.en) for q in asked] == [
        ("has_employees", "是否招用员工？", "Hiring employees?"),
        ("invoice_needed", "是否申领发票？", "Requesting invoices?"),
    ]
    assert [(c.value, c.query, c.zh) for c in asked[0].choices] == [
        (True, "true", "是"),
        (False, "false", "否"),
    ]


def test_a_yes_no_label_without_shi_fou_becomes_a_question(catalog: Catalog) -> None:
    item = FormItem(
        "allowance",
        "生育津贴",
        "Maternity allowance",
        "medical-insurance",
        fields=("mother_name", "mother_employee_insured", "benefit_bank_account"),
        materials=(),
    )
    form = merge_form(
        catalog,
        FormRequest(items=(item,), conditions={"benefit_bank_account": {"mother_employee_insured": True}}),
    )
    (question,) = questions(form)
    assert question.zh == "母亲参加职工生育保险吗？"


def test_a_few_questions_at_most(startup_form: MergedForm) -> None:
    many = {"company_type", "seal_set", "invoice_needed", "has_employees", "bank_name", "legal_rep_phone"}
    asked = questions(startup_form, many | {"employee_count"})
    assert len(asked) <= MAX_QUESTIONS
    assert {q.field for q in asked} == many - {"legal_rep_phone"}


def test_answers_are_read_back_from_query_values_or_json(startup_form: MergedForm) -> None:
    asked = questions(startup_form, {"invoice_needed", "company_type"})
    raw = {"has_employees": "false", "invoice_needed": True, "company_type": "limited", "other": "x"}
    assert parse_answers(asked, raw) == {
        "has_employees": False,
        "invoice_needed": True,
        "company_type": "limited",
    }
    assert parse_answers(asked, {"has_employees": "yes", "company_type": "plc", "invoice_needed": 1}) == {}


def test_open_questions_take_every_choice(school_form: MergedForm) -> None:
    asked = questions(school_form)
    assert len(list(completions(asked, {}))) == 4
    assert list(completions(asked, {"housing_type": "rented"})) == [
        {"housing_type": "rented", "household_location": "local"},
        {"housing_type": "rented", "household_location": "non_local"},
    ]
    full = {"housing_type": "owned", "household_location": "local"}
    assert list(completions(asked, full)) == [full]


def test_materials_needed_on_every_route_or_only_some(school_form: MergedForm) -> None:
    asked = questions(school_form)
    full = list(completions(asked, {"housing_type": "rented"}))
    needed, exempt = materials_needed(school_form, full, [EVERY_ITEM] * len(full))
    shown = {m.entry.kind: m.always for m in needed}
    assert shown == {
        "household_register": True,
        "lease_registration": True,
        "residence_permit": False,
        "social_insurance_record": False,
    }
    assert [e.kind for e in exempt] == ["birth_certificate"]
    assert exempt[0].why_zh == "出生医学证明由卫健部门共享"


def test_a_material_only_items_off_the_route_need_is_not_asked(school_form: MergedForm) -> None:
    full = [{"housing_type": "rented", "household_location": "non_local"}]
    route = [("household-check", "housing-check", "school-assignment")]  # no social insurance check
    needed, _ = materials_needed(school_form, full, route)
    assert "social_insurance_record" not in {m.entry.kind for m in needed}
    assert "residence_permit" in {m.entry.kind for m in needed}


def test_the_answers_prefill_the_form_as_query_parameters() -> None:
    assert prefill_query({"has_employees": True, "invoice_needed": False, "company_type": "limited"}) == {
        "has_employees": "true",
        "invoice_needed": "false",
        "company_type": "limited",
    }
