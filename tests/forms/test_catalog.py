"""Loading the data-element catalog: every file joined, every key defined once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from forms.catalog import CATALOG_DIR, Catalog, DataClass, ElementType, load_catalog
from forms.checks import Format
from forms.errors import CatalogError
from forms.merge import merge_form
from forms.spec import FormItem, FormRequest
from forms.validate import property_schema

REQUIRED_ELEMENTS = {
    *("company_name", "company_type", "address", "address_division", "registered_capital", "business_scope"),
    *("legal_rep_name", "legal_rep_id", "legal_rep_phone", "has_employees", "employee_count", "bank_name"),
    *("invoice_needed", "seal_set", "uscc", "social_insurance_no", "housing_fund_account", "bank_account_no"),
    *("child_name", "child_id", "guardian_name", "guardian_id", "guardian_phone", "guardian_relation"),
    *("household_location", "residence_address", "residence_division", "housing_type", "school_stage"),
    *("household_verified", "housing_verified", "social_insurance_months", "assigned_school"),
    *("applicant_name", "applicant_id", "applicant_phone", "email"),
}
REQUIRED_MATERIALS = {
    *("articles_of_association", "premises_proof", "legal_rep_id_card", "business_licence"),
    *("household_register", "birth_certificate", "property_certificate", "lease_registration"),
    *("residence_permit", "social_insurance_record"),
}


def copy_catalog(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    shutil.copy(CATALOG_DIR / "common.yaml", folder / "common.yaml")
    # common.yaml's birth certificate `reads` fields that individual.yaml defines (mother_name ...).
    shutil.copy(CATALOG_DIR / "individual.yaml", folder / "individual.yaml")
    return folder


def test_shipped_catalog_holds_the_elements_and_materials_the_bundles_use(catalog: Catalog) -> None:
    assert set(catalog.elements) >= REQUIRED_ELEMENTS
    assert set(catalog.materials) >= REQUIRED_MATERIALS
    assert catalog.elements["legal_rep_id"].format is Format.RESIDENT_ID
    assert catalog.elements["legal_rep_id"].data_class is DataClass.SENSITIVE
    assert catalog.elements["uscc"].format is Format.USCC
    assert catalog.elements["registered_capital"].type is ElementType.NUMBER
    assert catalog.elements["company_type"].enum == ("limited", "sole_proprietorship", "partnership")
    licence = catalog.materials["business_licence"].certificate
    assert licence is not None and licence.issuer == "market-regulation"
    assert {"company_name", "uscc"} <= set(licence.fields)


def test_every_element_belongs_to_a_known_group(catalog: Catalog) -> None:
    assert all(element.group in catalog.groups for element in catalog.elements.values())


def test_every_yaml_file_of_the_folder_is_loaded(tmp_path: Path) -> None:
    folder = copy_catalog(tmp_path)
    (folder / "utilities.yaml").write_text(
        "elements:\n"
        "  water_meter_no: {zh: 水表号, en: Water meter, type: string, class: public, group: address}\n"
        "materials:\n"
        "  excavation_permit: {zh: 挖掘道路许可, en: Road excavation permit}\n",
        encoding="utf-8",
    )
    loaded = load_catalog(folder)
    assert "water_meter_no" in loaded.elements and "company_name" in loaded.elements
    assert loaded.materials["excavation_permit"].accept == ("application/pdf", "image/jpeg", "image/png")
    assert loaded.elements["water_meter_no"].source == "utilities.yaml"


def test_a_key_defined_in_two_files_is_refused_naming_both(tmp_path: Path) -> None:
    folder = copy_catalog(tmp_path)
    (folder / "other.yaml").write_text(
        "elements:\n  company_name: {zh: 名称, en: Name, type: string, class: public, group: enterprise}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    [problem] = caught.value.problems
    assert problem.rule == "duplicate"
    assert "common.yaml" in problem.message_en and "other.yaml" in problem.message_en


def test_a_key_written_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "one.yaml").write_text(
        "groups:\n  g: {zh: 组, en: Group}\n"
        "elements:\n"
        "  a: {zh: 甲, en: A, type: string, class: public, group: g}\n"
        "  a: {zh: 乙, en: B, type: integer, class: public, group: g}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    assert "twice" in caught.value.problems[0].message_en


def test_every_catalog_problem_is_listed_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "bad.yaml").write_text(
        "groups:\n  g: {zh: 组, en: Group}\n"
        "elements:\n"
        "  no_group: {zh: 甲, en: A, type: string, class: public, group: nowhere}\n"
        "  bad_type: {zh: 乙, en: B, type: text, class: public, group: g}\n"
        "  bad_class: {zh: 丙, en: C, type: string, class: secret, group: g}\n"
        "  format_on_number: {zh: 丁, en: D, type: integer, format: uscc, class: public, group: g}\n"
        "  unlabelled: {zh: 戊, en: E, type: string, enum: [x, y], enum_labels: {x: {zh: 叉, en: X}},"
        " class: public, group: g}\n"
        "  BadKey: {zh: 己, en: F, type: string, class: public, group: g}\n"
        "materials:\n"
        "  no_group: {zh: 重名, en: Same name}\n"
        "  cert: {zh: 证, en: Cert, certificate: {issuer: tax, fields: [missing_field]}}\n"
        "  typo: {zh: 错, en: Typo, acept: [image/png]}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    wheres = " | ".join(p.where for p in caught.value.problems)
    for key in (
        "no_group",
        "bad_type",
        "bad_class",
        "format_on_number",
        "unlabelled",
        "BadKey",
        "cert",
        "typo",
    ):
        assert key in wheres, key
    rules = {p.rule for p in caught.value.problems}
    assert {"group", "schema", "key", "duplicate", "unknown_field"} <= rules


def test_invalid_yaml_is_reported_with_its_file(tmp_path: Path) -> None:
    folder = copy_catalog(tmp_path)
    (folder / "broken.yaml").write_text("elements: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    assert caught.value.problems[0].where == "broken.yaml"
    assert caught.value.problems[0].rule == "yaml"


def test_the_catalog_is_cached_until_a_file_changes(tmp_path: Path) -> None:
    folder = copy_catalog(tmp_path)
    first = load_catalog(folder)
    assert load_catalog(folder) is first
    (folder / "more.yaml").write_text(
        "materials:\n  extra_doc: {zh: 其他材料, en: Other document}\n", encoding="utf-8"
    )
    again = load_catalog(folder)
    assert again is not first and "extra_doc" in again.materials


def test_every_shipped_element_gives_a_valid_json_schema(catalog: Catalog) -> None:
    for element in catalog.elements.values():
        Draft202012Validator.check_schema(
            {"type": "object", "properties": {element.key: property_schema(element)}}
        )


def test_date_elements_check_real_dates_and_their_bounds(tmp_path: Path) -> None:
    folder = copy_catalog(tmp_path)
    (folder / "dates.yaml").write_text(
        "elements:\n"
        '  birth_day: {zh: 出生日期, en: Date of birth, type: date, min: "2000-01-01", max: "2030-12-31",'
        " class: personal, group: child}\n",
        encoding="utf-8",
    )
    loaded = load_catalog(folder)
    item = FormItem("x", "甲", "A", "health", ("birth_day",), ())
    form = merge_form(loaded, FormRequest(items=(item,)))
    assert form.json_schema["properties"]["birth_day"]["format"] == "date"
    assert form.validate({"birth_day": "2024-02-29"}, []) == []
    rules = {
        value: [p.rule for p in form.validate({"birth_day": value}, [])]
        for value in ("2023-02-29", "1999-12-31", "2031-01-01", "tomorrow", 20240101)
    }
    assert rules == {
        "2023-02-29": ["date"],
        "1999-12-31": ["minimum"],
        "2031-01-01": ["maximum"],
        "tomorrow": ["date"],
        20240101: ["type"],
    }
