"""HTML of a merged form: labelled inputs, inline errors, conditional wrappers, prefill marks.

The page speaks one language, and the server alone checks answers: no browser checks.
"""

from __future__ import annotations

import json
from typing import Any

import lxml.html
from jinja2 import Environment, FileSystemLoader

from forms.catalog import ElementType
from forms.merge import MergedForm
from forms.prefill import PrefillSource, prefill
from forms.render import TEMPLATES_DIR, decision_view, form_view, render_form, render_materials
from tests.forms.builders import school_data, startup_data


def parse(markup: str) -> Any:
    return lxml.html.fragment_fromstring(str(markup), create_parent="div")


def find(root: Any, xpath: str, **names: str) -> list[Any]:
    return list(root.xpath(xpath, **names))


def one(root: Any, xpath: str, **names: str) -> Any:
    [element] = find(root, xpath, **names)
    return element


def control(root: Any, name: str) -> Any:
    return one(root, ".//*[@name=$n]", n=name)


def field(root: Any, name: str) -> Any:
    return one(root, ".//*[@data-field=$n]", n=name)


def test_every_field_has_a_label_tied_to_its_input(startup_form: MergedForm) -> None:
    root = parse(render_form(startup_form, startup_data()))
    for name in startup_form.fields:
        element = startup_form.element(name)
        wrapper = field(root, name)
        if element.type is ElementType.BOOLEAN:
            assert one(wrapper, ".//fieldset/legend").text_content().startswith(element.zh)
            assert len(find(wrapper, ".//input[@type='radio'][@name=$n]", n=name)) == 2
            continue
        label = one(root, ".//label[@for=$id]", id=control(root, name).get("id"))
        assert element.zh in label.text_content() and element.en not in label.text_content()
    assert control(root, "company_type").tag == "select"
    options = [o.text_content() for o in find(control(root, "company_type"), ".//option")]
    assert options[0] == "请选择" and "有限责任公司" in options and "Limited liability company" not in options
    # Numbers are text with a numeric keyboard: no spinner, no browser "enter a valid value".
    assert control(root, "registered_capital").get("type") == "text"
    assert control(root, "registered_capital").get("inputmode") == "decimal"
    assert control(root, "business_scope").tag == "textarea"
    assert control(root, "legal_rep_phone").get("type") == "tel"
    assert control(root, "legal_rep_id").get("autocomplete") == "off"  # sensitive
    assert control(root, "legal_rep_id").get("aria-required") == "true"
    assert control(root, "company_name").get("value") == "北京一件事科技有限公司"
    assert one(field(root, "registered_capital"), ".//*[@class='unit']").text_content().startswith("万元")


def test_errors_are_shown_next_to_their_fields(startup_form: MergedForm) -> None:
    data = {**startup_data(), "legal_rep_id": "110105194912310021"}
    problems = startup_form.validate(data, [])
    root = parse(render_form(startup_form, data, problems))
    id_input = control(root, "legal_rep_id")
    assert id_input.get("aria-invalid") == "true"
    error = one(root, ".//*[@id=$id]", id=id_input.get("aria-describedby"))
    assert error.get("role") == "alert"
    assert "校验码" in error.text_content() and "check digit" not in error.text_content()
    assert control(root, "company_name").get("aria-invalid") is None
    materials = parse(render_materials(startup_form, data, problems))
    missing = one(materials, ".//*[@data-material='premises_proof']//*[@class='field-error']")
    assert "缺少此材料" in missing.text_content()


def test_conditional_fields_carry_their_condition_and_start_hidden_when_it_fails(
    startup_form: MergedForm,
) -> None:
    root = parse(render_form(startup_form, {"has_employees": False}))
    wrapper = field(root, "employee_count")
    assert json.loads(wrapper.get("data-show-when")) == {"has_employees": [True]}
    assert wrapper.get("hidden") is not None
    shown = parse(render_form(startup_form, {"has_employees": True}))
    assert field(shown, "employee_count").get("hidden") is None
    assert control(shown, "employee_count").get("aria-required") == "true"


def test_conditional_materials_are_wrapped_and_promises_offered(school_form: MergedForm) -> None:
    root = parse(render_materials(school_form, school_data()))
    permit = one(root, ".//*[@data-material='residence_permit']")
    assert json.loads(permit.get("data-show-when")) == {"household_location": ["non_local"]}
    assert permit.get("hidden") is not None
    record = one(root, ".//*[@data-material='social_insurance_record']")
    assert one(record, ".//input[@name='promise']").get("value") == "social_insurance_record"
    birth = one(root, ".//*[@data-material='birth_certificate']")
    assert not find(birth, ".//input[@type='file']") and "卫健" in birth.text_content()
    register = one(root, ".//input[@name='material:household_register']")
    assert register.get("accept") == "application/pdf,image/jpeg,image/png"


def test_prefilled_fields_are_marked_with_their_source(startup_form: MergedForm) -> None:
    source = PrefillSource("办件 #3", "Case #3", {"company_name": "北京一件事科技有限公司"}, "case")
    filled = prefill(startup_form, [source])
    root = parse(render_form(startup_form, {}, (), filled))
    wrapper = field(root, "company_name")
    assert wrapper.get("data-prefilled") == "case"
    assert "办件 #3" in one(wrapper, ".//*[@class='field-prefilled-note']").text_content()
    assert control(root, "company_name").get("value") == "北京一件事科技有限公司"
    assert "f-company_name-prefilled" in control(root, "company_name").get("aria-describedby")
    # A value the applicant changed is theirs, no longer marked as prefilled.
    changed = parse(render_form(startup_form, {"company_name": "另一家公司"}, (), filled))
    assert field(changed, "company_name").get("data-prefilled") is None


def test_values_are_escaped(startup_form: MergedForm) -> None:
    hostile = '"><script>alert(1)</script>'
    html = str(render_form(startup_form, {"company_name": hostile, "business_scope": "</textarea><b>x</b>"}))
    assert "<script>" not in html and "<b>x</b>" not in html
    root = parse(html)
    assert control(root, "company_name").get("value") == hostile
    assert control(root, "business_scope").text == "</textarea><b>x</b>"


def test_english_only_when_asked(startup_form: MergedForm) -> None:
    root = parse(render_form(startup_form, {}, lang="en"))
    label = one(root, ".//label[@for='f-company_name']")
    assert label.xpath("./span")[0].get("lang") == "en"
    assert label.text_content() == "Company name*"
    text = root.text_content()
    assert "企业" not in text and "请选择" not in text and "Choose" in text


def test_no_browser_checks_anywhere(startup_form: MergedForm, school_form: MergedForm) -> None:
    """No attribute the browser would check on its own ("Please match the requested format")."""
    for form, data in ((startup_form, startup_data()), (school_form, school_data())):
        root = parse(render_form(form, data) + render_materials(form, data))
        for attribute in ("required", "pattern", "min", "max", "minlength", "step", "title"):
            assert not find(
                root, f".//input[@{attribute}] | .//select[@{attribute}] | .//textarea[@{attribute}]"
            ), attribute
        assert not find(root, ".//input[@type='number'] | .//input[@type='email']")


def test_option_groups_render_as_a_select_in_the_page_language(startup_form: MergedForm) -> None:
    groups = form_view(startup_form, {"address_division": "310101"})
    for g in groups:
        for f in g["fields"]:
            if f["key"] == "address_division":
                f["option_groups"] = [
                    {
                        "label": {"zh": "上海市", "en": "Shanghai"},
                        "options": [
                            {"value": "310101", "zh": "上海市黄浦区", "en": "Huangpu District, Shanghai"},
                            {"value": "310104", "zh": "上海市徐汇区", "en": "Xuhui District, Shanghai"},
                        ],
                    }
                ]
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    page = env.from_string('{% import "form_macros.html" as fm %}{{ fm.form_fields(groups, lang) }}')
    for lang, name in (("zh", "上海市黄浦区"), ("en", "Huangpu District, Shanghai")):
        picker = control(parse(page.render(groups=groups, lang=lang)), "address_division")
        assert picker.tag == "select"
        assert one(picker, ".//optgroup").get("label") == ("上海市" if lang == "zh" else "Shanghai")
        chosen = one(picker, ".//option[@selected]")
        assert (chosen.get("value"), chosen.text_content()) == ("310101", name)


def test_the_pages_can_import_the_macros_in_their_own_environment(startup_form: MergedForm) -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    page = env.from_string(
        '{% import "form_macros.html" as fm %}<form>{{ fm.form_fields(groups, "zh") }}</form>'
    )
    root = parse(page.render(groups=form_view(startup_form, startup_data())))
    assert control(one(root, ".//form"), "legal_rep_id") is not None


def test_a_clerks_decision_fields_render_with_their_errors(school_form: MergedForm) -> None:
    problems = school_form.validate_decision(
        "social-insurance-check", {}, school_data(household_location="non_local")
    )
    entries = decision_view(
        school_form, "social-insurance-check", {}, problems, school_data(household_location="non_local")
    )
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    page = env.from_string(
        '{% import "form_macros.html" as fm %}{% for f in entries %}{{ fm.field(f) }}{% endfor %}'
    )
    root = parse(page.render(entries=entries))
    months = control(root, "social_insurance_months")
    assert months.get("type") == "text" and months.get("inputmode") == "numeric"
    assert months.get("aria-invalid") == "true"
    assert "必填" in one(root, ".//*[@role='alert']").text_content()
    local = decision_view(school_form, "social-insurance-check", {}, (), school_data())
    assert local[0]["shown"] is False
