"""Reading an HTML form post (strings) into typed answers."""

from __future__ import annotations

from forms.coerce import coerce_value, coerce_values
from forms.merge import MergedForm


def test_posted_strings_become_typed_answers(startup_form: MergedForm) -> None:
    posted = {
        "company_name": "  北京一件事科技有限公司 ",
        "registered_capital": "100.5",
        "has_employees": "true",
        "employee_count": "12",
        "legal_rep_id": "11010519491231002x",
        "bank_name": "",
        "csrf_token": "abc",
    }
    values = coerce_values(startup_form, posted)
    assert values == {
        "company_name": "北京一件事科技有限公司",
        "registered_capital": 100.5,
        "has_employees": True,
        "employee_count": 12,
        "legal_rep_id": "11010519491231002X",
    }


def test_unreadable_values_are_kept_for_validation_and_hidden_answers_dropped(
    startup_form: MergedForm,
) -> None:
    values = coerce_values(startup_form, {"employee_count": "many", "has_employees": "false"})
    assert values == {"has_employees": False}  # the count is not asked without employees
    values = coerce_values(startup_form, {"employee_count": "many", "has_employees": "true"})
    assert values == {"has_employees": True, "employee_count": "many"}
    assert any(p.field == "employee_count" and p.rule == "type" for p in startup_form.validate(values, []))


def test_numbers_are_plain_decimals_for_applicants_and_clerks_alike(startup_form: MergedForm) -> None:
    # Python's int() and float() would take these; a form field does not.
    for text in ("nan", "inf", "-Infinity", "1_000", "1e3", "0x10"):
        assert coerce_value(startup_form, "registered_capital", text) == text
        assert coerce_value(startup_form, "employee_count", text) == text
    assert coerce_value(startup_form, "registered_capital", "-2.50") == -2.5
    assert coerce_value(startup_form, "employee_count", "+7") == 7
    assert coerce_value(startup_form, "has_employees", "是") is True
    assert coerce_value(startup_form, "uscc", "91350100m000100y43") == "91350100M000100Y43"
