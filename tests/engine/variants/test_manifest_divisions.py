"""Manifest fields for regions: where an item is decided (level, division source), division_field, extensible.

A division source is a field of the bundle that holds a division code, or a fixed code;
anything else is a validation problem naming the element, like the other manifest problems.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.bpmn.definitions import read_bundle_dir
from engine.bpmn.manifest import DivisionSource, parse_manifest
from engine.bpmn.validation.bundle import validate_bundle_files
from engine.errors import DefinitionError
from engine.storage.settings import shipped_processes_dir

STARTUP = shipped_processes_dir() / "enterprise-startup"


def _startup(change: dict[str, object] | None = None, **item: object) -> dict[str, bytes]:
    """The shipped enterprise-startup bundle with its first item and top-level keys changed."""
    files = read_bundle_dir(STARTUP)
    raw = yaml.safe_load(files["bundle.yaml"])
    raw["items"][0].update(item)
    raw.update(change or {})
    files["bundle.yaml"] = yaml.safe_dump(raw, allow_unicode=True).encode()
    return files


def _rules(files: dict[str, bytes]) -> set[tuple[str, str]]:
    return {(p.element, p.rule) for p in validate_bundle_files(files).problems}


def test_defaults_decide_at_county_in_the_case_division() -> None:
    manifest = parse_manifest(Path(STARTUP / "bundle.yaml").read_bytes())
    item = manifest.items[0]
    assert item.decided_at == "county"
    assert item.division is None
    assert manifest.division_field is None
    assert manifest.extensible is False
    assert manifest.item_division(item, {"address_division": "310104"}, "310115") == "310115"
    assert manifest.item_division(item, {}, None) is None


def test_item_division_reads_the_field_then_falls_back_to_the_case() -> None:
    raw = yaml.safe_load(_startup(division={"field": "address_division"})["bundle.yaml"])
    manifest = parse_manifest(yaml.safe_dump(raw, allow_unicode=True))
    item = manifest.items[0]
    assert manifest.item_division(item, {"address_division": "310104"}, "310115") == "310104"
    assert manifest.item_division(item, {"address_division": ""}, "310115") == "310115"
    assert manifest.item_division(item, {"address_division": "not-a-code"}, "310115") == "310115"


def test_a_fixed_division_wins_over_the_data() -> None:
    raw = yaml.safe_load(_startup(division={"fixed": "310000"}, decided_at="province")["bundle.yaml"])
    manifest = parse_manifest(yaml.safe_dump(raw, allow_unicode=True))
    item = manifest.items[0]
    assert item.decided_at == "province"
    assert manifest.item_division(item, {"address_division": "310104"}, "310115") == "310000"


@pytest.mark.parametrize(
    "source",
    [{}, {"field": "address_division", "fixed": "310000"}, {"fixed": "3101"}, {"fixed": "31010A"}],
)
def test_a_division_source_is_exactly_one_field_or_one_code(source: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        DivisionSource.model_validate(source)
    rules = _rules(_startup(division=source))
    assert any(element.startswith("items.0.division") and rule == "schema" for element, rule in rules)


def test_nine_and_twelve_digit_codes_are_divisions() -> None:
    assert DivisionSource(fixed="310104003").fixed == "310104003"
    assert DivisionSource(fixed="310104003001").fixed == "310104003001"


def test_a_division_field_the_bundle_does_not_ask_is_a_problem() -> None:
    rules = _rules(_startup(division={"field": "residence_division"}))
    assert ("items[business-registration].division.field", "division-field") in rules


def test_a_division_field_that_holds_no_division_code_is_a_problem() -> None:
    rules = _rules(_startup(division={"field": "company_name"}))
    assert ("items[business-registration].division.field", "division-field") in rules
    rules = _rules(_startup({"division_field": "address"}))
    assert ("division_field", "division-field") in rules


def test_good_division_settings_validate_clean() -> None:
    files = _startup(
        {"division_field": "address_division", "extensible": True},
        division={"field": "address_division"},
        decided_at="city",
    )
    assert validate_bundle_files(files).problems == ()


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_manifest(yaml.safe_dump(yaml.safe_load(_startup(decided_at="street")["bundle.yaml"])))
    assert any(p.where == "items.0.decided_at" for p in caught.value.problems)
