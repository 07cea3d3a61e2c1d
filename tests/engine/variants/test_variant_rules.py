"""The overlay rules as pure functions: which limits are refused, and what the merged manifest holds.

Property-based over the shipped enterprise-startup base: for any set of time-limit overrides,
exactly the longer ones are refused, and the merge keeps every base item, in order, with the
overridden limits and the base's other values.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.bpmn.definitions import read_bundle_dir
from engine.bpmn.manifest import parse_manifest
from engine.bpmn.variants import OVERLAY_NAME, VariantOverlay, apply_variant, variant_problems
from engine.storage.settings import shipped_processes_dir

STARTUP = shipped_processes_dir() / "enterprise-startup"
BASE_FILES = read_bundle_dir(STARTUP)
BASE = parse_manifest(BASE_FILES["bundle.yaml"])
KEYS = [item.key for item in BASE.items]

limits = st.dictionaries(
    st.sampled_from(KEYS), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0]), max_size=len(KEYS)
)


def _overlay(overrides: dict[str, float]) -> VariantOverlay:
    return VariantOverlay.model_validate(
        {
            "variant_of": BASE.key,
            "division": "310104",
            "version": 1,
            "items": {key: {"time_limit_days": days} for key, days in overrides.items()},
        }
    )


@settings(max_examples=60, deadline=None)
@given(limits)
def test_exactly_the_longer_limits_are_refused(overrides: dict[str, float]) -> None:
    files = {"bundle.yaml": b"variant_of: enterprise-startup\n"}
    problems = variant_problems(BASE, _overlay(overrides), BASE_FILES, files)
    refused = {p.element for p in problems if p.rule == "variant-time-limit"}
    longer = {
        f"items[{key}].time_limit_days"
        for key, days in overrides.items()
        if days > BASE.item(key).time_limit_days
    }
    assert refused == longer
    assert all(p.file == "bundle.yaml" and p.message and p.message_en for p in problems)


@settings(max_examples=40, deadline=None)
@given(limits)
def test_the_merge_keeps_every_base_item_with_the_overridden_limits(overrides: dict[str, float]) -> None:
    allowed = {k: d for k, d in overrides.items() if d <= BASE.item(k).time_limit_days}
    variant_files = {"bundle.yaml": b"variant_of: enterprise-startup\n"}
    merged, files = apply_variant(BASE, _overlay(allowed), BASE_FILES, variant_files)
    assert [item.key for item in merged.items] == KEYS
    for base_item, item in zip(BASE.items, merged.items, strict=True):
        assert item.time_limit_days == allowed.get(item.key, base_item.time_limit_days)
        assert item.model_copy(update={"time_limit_days": base_item.time_limit_days}) == base_item
    assert merged.exemptions == BASE.exemptions and merged.baseline == BASE.baseline
    assert merged.examples == BASE.examples and merged.name == BASE.name
    assert files["process.bpmn"] == BASE_FILES["process.bpmn"]
    assert files[OVERLAY_NAME] == variant_files["bundle.yaml"]
    assert parse_manifest(files["bundle.yaml"]) == merged
