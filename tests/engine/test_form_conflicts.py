"""Merged-form conflicts are errors of `onething validate`, named at their place in bundle.yaml."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from engine.bpmn.validation.bundle import validate_bundle_dir
from engine.bpmn.validation.command import run_validate
from forms.catalog import CATALOG_DIR, load_catalog
from forms.errors import CatalogError
from tests.support.engines import TEST_BUNDLES

MINI = TEST_BUNDLES / "mini-startup"


def edited(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "mini-startup"
    shutil.copytree(MINI, folder)
    manifest = folder / "bundle.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


CONFLICTS = {
    # The gateway asks a yes/no question; a condition that expects text for it can never hold.
    "a condition giving a boolean field a text value": (
        "employee_count: {has_employees: true}",
        'employee_count: {has_employees: "yes"}',
        ("conditions.employee_count", "form-condition_value"),
    ),
    "a condition giving a number field a text value": (
        "employee_count: {has_employees: true}",
        'employee_count: {registered_capital: "a lot"}',
        ("conditions.employee_count", "form-condition_value"),
    ),
    "a material asked as a data field": (
        "fields: [company_name, legal_rep_name, legal_rep_id]",
        "fields: [company_name, legal_rep_name, legal_rep_id, business_licence]",
        ("items[tax-registration].fields", "form-unknown_key"),
    ),
    "a data field asked as a material": (
        "materials: [articles_of_association]",
        "materials: [articles_of_association, company_name]",
        ("items[business-registration].materials", "form-unknown_key"),
    ),
    "a field that decides its own condition": (
        "employee_count: {has_employees: true}",
        "employee_count: {employee_count: 3}",
        ("conditions.employee_count", "form-cycle"),
    ),
    "one certificate issued by two items": (
        "materials: [business_licence]\n  - key: social-insurance",
        "materials: [business_licence]\n    outputs: [business_licence]\n  - key: social-insurance",
        ("items[tax-registration].outputs", "form-duplicate"),
    ),
}


@pytest.mark.parametrize("name", sorted(CONFLICTS))
def test_a_form_conflict_is_an_error_of_onething_validate(tmp_path: Path, name: str) -> None:
    old, new, (element, rule) = CONFLICTS[name]
    folder = edited(tmp_path, old, new)
    report = validate_bundle_dir(folder)
    found = {(Path(p.file).name, p.element, p.rule) for p in report.problems}
    assert ("bundle.yaml", element, rule) in found, found
    out = io.StringIO()
    assert run_validate([str(folder)], out) == 1
    assert element in out.getvalue()


def test_the_unchanged_bundle_has_no_form_problems(tmp_path: Path) -> None:
    folder = edited(tmp_path, "version: 1", "version: 1")
    out = io.StringIO()
    assert run_validate([str(folder)], out) == 0, out.getvalue()


def test_one_key_with_two_types_or_formats_in_the_catalog_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, folder)
    (folder / "zz-local.yaml").write_text(
        "elements:\n"
        "  legal_rep_id: {zh: 法人证件号, en: Legal rep ID, type: integer, class: sensitive,"
        " group: legal_representative}\n"
        "  uscc: {zh: 信用代码, en: Credit code, type: string, format: mobile, class: public,"
        " group: enterprise}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    found = {(p.where, p.rule) for p in caught.value.problems}
    assert found == {
        ("zz-local.yaml: elements.legal_rep_id", "duplicate"),
        ("zz-local.yaml: elements.uscc", "duplicate"),
    }
    for problem in caught.value.problems:
        assert "zz-local.yaml" in problem.message_en and problem.message_en.count(".yaml") == 2
        assert "重复定义" in problem.message
