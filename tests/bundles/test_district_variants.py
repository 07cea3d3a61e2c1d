"""Each bundle added with the national catalog ships a district variant; a case of that district runs on it.

The bundles are construction-start (completing the 2024 first batch) and the 2024 second batch
(``CATALOG_ADDITIONS``). Each of their variants (``processes/<key>/variants/<division>/``) is
checked as ``onething validate`` checks it, read for what a district may override (a shorter
承诺时限, an exemption of a material the base asks, contacts for every department, illustrative
baseline figures), then deployed after its base on a real engine (SQLite and PostgreSQL): an
application of its district starts on the variant's version, one of 黄浦区 (no variant) on the
base's. As the enterprise-startup variant's tests do (tests/engine/variants, tests/engine/regions_routing).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.bpmn.validation.paths import validate_paths
from engine.bpmn.variants import VARIANTS_DIR, VariantOverlay, parse_variant
from engine.demo import demo_document
from engine.errors import InvalidInput
from engine.service import Engine
from tests.bundles.shipped import CATALOG_ADDITIONS, PROCESSES, bundle_keys, manifest
from tests.support.engines import APPLICANT, make_engine

KEYS = sorted(CATALOG_ADDITIONS)
NO_VARIANT = "310101"  # 黄浦区: none of these bundles has a variant there


def variant_dirs(key: str) -> list[Path]:
    """The variant folders a shipped bundle holds, in division order."""
    return sorted(p.parent for p in (PROCESSES / key / VARIANTS_DIR).glob("*/bundle.yaml"))


def overlay(folder: Path) -> VariantOverlay:
    """The parsed overlay of one variant folder."""
    return parse_variant((folder / "bundle.yaml").read_bytes())


@cache
def division_names() -> dict[str, str]:
    """Every code of the shipped division tree with its own Chinese name (徐汇区, 杭州市...)."""
    names: dict[str, str] = {}

    def walk(node: dict[str, Any]) -> None:
        names[str(node["code"])] = str(node["zh"])
        for child in node.get("children", ()):
            walk(child)

    for path in sorted((PROCESSES / "divisions").glob("*.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return names


def test_every_second_batch_bundle_and_construction_start_are_covered() -> None:
    second = {
        k for k in bundle_keys() if (c := manifest(k).catalog) is not None and c.list == "national-2024-2"
    }
    assert len(second) == 7
    assert second | {"construction-start"} == CATALOG_ADDITIONS


def test_the_variants_spread_over_shanghai_and_zhejiang() -> None:
    divisions = [overlay(folder).division for key in KEYS for folder in variant_dirs(key)]
    assert len(set(divisions)) == len(divisions) == len(KEYS), "one district each, no two the same"
    assert {d[:2] for d in divisions} == {"31", "33"}


@pytest.mark.parametrize("key", KEYS)
def test_the_bundle_ships_a_variant_that_validates_against_its_base(key: str) -> None:
    folders = variant_dirs(key)
    assert folders, f"{key} ships no district variant"
    for folder in folders:
        (report,) = validate_paths([folder])
        assert [f"{p.element}: {p.message}" for p in report.problems] == []
        assert "variant" in report.checked, "checked against its base, two folders up"
        read = overlay(folder)
        assert (read.variant_of, read.division) == (key, folder.name)
        assert read.division in division_names(), "a division the shipped tree knows"


@pytest.mark.parametrize("key", KEYS)
def test_the_variant_overrides_only_what_a_district_may(key: str) -> None:
    base = manifest(key)
    asked = {kind for item in base.items for kind in item.materials}
    exempt = {e.material for e in base.exemptions}
    for folder in variant_dirs(key):
        read = overlay(folder)
        district = division_names()[read.division]
        assert (
            read.name is not None
            and read.name.zh.startswith(base.name.zh)
            and f"{district}）" in read.name.zh
        )
        # One or two shorter limits (承诺时限), each with a comment saying why.
        assert 1 <= len(read.items) <= 2
        for item_key, override in read.items.items():
            assert override.time_limit_days < base.item(item_key).time_limit_days, item_key
        assert (folder / "bundle.yaml").read_text(encoding="utf-8").count("承诺时限") >= len(read.items)
        # An exemption only of a material the base asks and does not already exempt, with its reason.
        for exemption in read.exemptions:
            assert exemption.material in asked - exempt, exemption.material
            assert exemption.why.zh and exemption.why.en
        # Contacts for each department of the bundle, at the district's own service centre.
        assert set(read.offices) == set(base.departments)
        for department, contact in read.offices.items():
            assert contact.phone.isdigit() and len(contact.phone) == 5, department
            assert district in contact.address and "中心" in contact.address, department
            assert contact.hours, department
        # Its own before-figures, said plainly to be illustrative.
        assert read.baseline is not None
        assert "并非官方统计" in read.baseline.source and "not an official statistic" in read.baseline.source


def _example(key: str, division: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The base's first example's data, its division fields set to ``division``, and its materials."""
    example = manifest(key).examples[0]
    data = {k: (division if k.endswith("_division") else v) for k, v in example.data.items()}
    return data, tuple(example.materials)


def upload(engine: Engine, kind: str) -> str:
    """Upload the demo's document of ``kind`` (a PDF, or an image where the kind asks one) as APPLICANT."""
    filename, body = demo_document(engine, kind)
    return engine.materials.upload(APPLICANT.username, kind, filename, io.BytesIO(body)).id


@pytest.mark.parametrize("key", KEYS)
def test_a_case_of_the_district_runs_on_the_variant(db_url: str, tmp_path: Path, key: str) -> None:
    engine = make_engine(db_url, tmp_path)
    engine.regions.load_shipped(PROCESSES / "divisions")
    base = engine.deployments.deploy_dir(PROCESSES / key)
    folder = variant_dirs(key)[0]
    read = overlay(folder)
    deployed = engine.deployments.deploy_dir(folder)
    # The key's one version sequence: the base v1, the variant v2.
    assert (base.version, deployed.version, deployed.division) == (1, 2, read.division)

    # What an applicant of the district is shown: the shorter limits, the exemptions, the contacts.
    shown = engine.bundle_detail(key, division=read.division)
    assert (shown.summary.version, shown.summary.division) == (2, read.division)
    limits = {i["key"]: i["time_limit_days"] for i in shown.summary.items}
    assert {k: limits[k] for k in read.items} == {k: o.time_limit_days for k, o in read.items.items()}
    checklist = {m["kind"]: m for m in shown.materials}
    for exemption in read.exemptions:
        assert checklist[exemption.material]["exempt"]
        assert checklist[exemption.material]["why"]["zh"] == exemption.why.zh
    assert shown.offices == {d: c.model_dump() for d, c in read.offices.items()}
    assert read.baseline is not None and shown.summary.reductions["before"]["days"] == read.baseline.days
    elsewhere = engine.bundle_detail(key, division=NO_VARIANT)
    assert (elsewhere.summary.version, elsewhere.offices) == (1, {})
    assert all(
        limits[k] < i["time_limit_days"] for i in elsewhere.summary.items if (k := i["key"]) in read.items
    )

    # An application of the district starts on the variant, without the materials it exempts.
    data, kinds = _example(key, read.division)
    exempted = {e.material for e in read.exemptions}
    assert exempted <= set(kinds), "the first example asks what the district exempts"
    materials = {kind: upload(engine, kind) for kind in kinds if kind not in exempted}
    case = engine.start_case(APPLICANT, key, data, materials, division=read.division)
    assert (case.version, case.division) == (2, read.division)
    with engine.db.read() as s:
        row = engine.deployments.for_division(s, key, engine.regions.chain(read.division))
    assert row.version == 2
    for item_key, override in read.items.items():
        assert (
            engine.deployments.definition(row).manifest.item(item_key).time_limit_days
            == override.time_limit_days
        )

    # 黄浦区 has no variant: the base still asks for what the district exempts.
    data, _ = _example(key, NO_VARIANT)
    if exempted:
        with pytest.raises(InvalidInput) as refused:
            engine.start_case(APPLICANT, key, data, materials, division=NO_VARIANT)
        assert {p.where for p in refused.value.problems} == exempted
    complete = {**materials, **{kind: upload(engine, kind) for kind in exempted}}
    other = engine.start_case(APPLICANT, key, data, complete, division=NO_VARIANT)
    assert (other.version, other.division) == (1, NO_VARIANT)


def test_docs_regions_lists_every_shipped_variant() -> None:
    text = (PROCESSES.parent / "docs" / "regions.md").read_text(encoding="utf-8")
    listed = {
        (cells[0].strip("`"), cells[1].split()[0])
        for line in text.splitlines()
        if line.startswith("| `") and len(cells := [c.strip() for c in line.strip("|").split("|")]) == 3
    }
    shipped = {
        (p.parent.parent.parent.name, p.parent.name)
        for p in PROCESSES.glob(f"*/{VARIANTS_DIR}/*/bundle.yaml")
    }
    assert listed == shipped
