"""Regional variants: versions of their own, picked by the applicant's division, re-applied on a new base.

Real engines on real databases (SQLite and PostgreSQL for the store paths), the shipped
division tree and the shipped enterprise-startup bundle with its 徐汇区 variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.bpmn.definitions import read_bundle_dir
from engine.bpmn.deployments import Deployed
from engine.errors import DefinitionError, NotAllowed
from engine.service import Engine
from engine.storage.models import Case
from engine.storage.settings import shipped_processes_dir
from tests.support.engines import APPLICANT, make_engine, upload

PROCESSES = shipped_processes_dir()
STARTUP = PROCESSES / "enterprise-startup"
XUHUI = STARTUP / "variants" / "310104"
KEY = "enterprise-startup"
MINIMAL = Path(__file__).parent.parent / "fixtures" / "valid-minimal"


def _engine(db_url: str, tmp_path: Path) -> Engine:
    """An engine with the shipped divisions and the enterprise-startup base (version 1) deployed."""
    engine = make_engine(db_url, tmp_path)
    engine.regions.load_shipped(PROCESSES / "divisions")
    engine.deployments.deploy_dir(STARTUP)
    return engine


def _overlay(change: dict[str, Any] | None = None, source: Path = XUHUI) -> dict[str, bytes]:
    """The shipped 徐汇区 overlay with top-level keys changed (a key set to None is removed)."""
    raw = yaml.safe_load((source / "bundle.yaml").read_text(encoding="utf-8"))
    for name, value in (change or {}).items():
        if value is None:
            raw.pop(name, None)
        else:
            raw[name] = value
    return {"bundle.yaml": yaml.safe_dump(raw, allow_unicode=True).encode("utf-8")}


def _base(change: dict[str, Any] | None = None, **first_item: Any) -> dict[str, bytes]:
    """The shipped enterprise-startup files with top-level keys and its first item changed."""
    files = read_bundle_dir(STARTUP)
    raw = yaml.safe_load(files["bundle.yaml"])
    raw.update(change or {})
    raw["items"][0].update(first_item)
    files["bundle.yaml"] = yaml.safe_dump(raw, allow_unicode=True).encode("utf-8")
    return files


def _rules(exc: pytest.ExceptionInfo[DefinitionError]) -> set[tuple[str, str, str]]:
    return {(p.file, p.element, p.rule) for p in exc.value.problems}


def _versions(engine: Engine) -> list[tuple[int, str | None]]:
    with engine.db.read() as s:
        return [(r.version, r.division) for r in engine.deployments.latest_all(s)] + [
            (r.version, r.division) for r in engine.deployments.variants(s, KEY)
        ]


# --- deploying ------------------------------------------------------------------------------


def test_the_shipped_variant_deploys_as_a_variant_row_of_the_newest_base(db_url: str, tmp_path: Path) -> None:
    engine = _engine(db_url, tmp_path)
    deployed = engine.deployments.deploy_dir(XUHUI)
    assert deployed == Deployed(KEY, 2, created=True, division="310104")
    with engine.db.read() as s:
        base = engine.deployments.latest(s, KEY)
        variant = engine.deployments.latest(s, KEY, 2)
        assert (base.version, base.division) == (1, None)
        assert (variant.division, variant.base_id) == ("310104", base.id)
        assert [r.version for r in engine.deployments.latest_all(s)] == [1]
        assert [r.id for r in engine.deployments.variants(s, KEY)] == [variant.id]
    manifest = engine.deployments.definition(variant).manifest
    assert manifest.item("business-registration").time_limit_days == 0.5
    assert manifest.item("seal-engraving").time_limit_days == 0.5
    assert "premises_proof" in {e.material for e in manifest.exemptions}
    assert manifest.offices["market-regulation"].phone == "12345"
    assert manifest.baseline.days == 9
    assert engine.deployments.definition(base).manifest.item("business-registration").time_limit_days == 1
    again = engine.deployments.deploy_dir(XUHUI)
    assert again == Deployed(KEY, 2, created=False, division="310104")


def test_deploy_shipped_deploys_the_variants_after_their_bases(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url, tmp_path)
    deployed = engine.deploy_shipped()
    shipped = sorted(
        (p.parent.parent.parent.name, p.parent.name) for p in PROCESSES.glob("*/variants/*/bundle.yaml")
    )
    assert (KEY, "310104") in shipped and len(shipped) > 1
    variants = [d for d in deployed if d.division is not None]
    assert [(d.key, d.division) for d in variants] == shipped
    bases = [d for d in deployed if d.division is None]
    assert deployed == bases + variants  # every variant after every base: its base is deployed by then
    assert {d.version for d in bases} == {1} and {d.version for d in variants} == {2}  # one sequence per key
    assert not any(d.created for d in engine.deploy_shipped())


def test_a_longer_time_limit_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    engine = _engine(sqlite_url, tmp_path)
    with pytest.raises(DefinitionError) as caught:
        engine.deployments.deploy_files(
            _overlay({"items": {"business-registration": {"time_limit_days": 2}}})
        )
    assert ("bundle.yaml", "items[business-registration].time_limit_days", "variant-time-limit") in _rules(
        caught
    )
    assert _versions(engine) == [(1, None)]


def test_only_the_allowed_overrides_are_read(sqlite_url: str, tmp_path: Path) -> None:
    """Anything but limits, exemptions, offices, baseline, name and local items is refused by name."""
    engine = _engine(sqlite_url, tmp_path)
    for change, element in (
        ({"process": "other.bpmn"}, "process"),
        ({"conditions": {}}, "conditions"),
        ({"items": {"business-registration": {"department": "tax", "time_limit_days": 1}}}, "department"),
    ):
        with pytest.raises(DefinitionError) as caught:
            engine.deployments.deploy_files(_overlay(change))
        assert any(p.rule == "schema" and element in p.where for p in caught.value.problems), change


@pytest.mark.parametrize(
    ("change", "element", "rule"),
    [
        ({"items": {"no-such-item": {"time_limit_days": 1}}}, "items[no-such-item]", "variant-item"),
        (
            {"exemptions": [{"material": "household_register", "why": {"zh": "共享"}}]},
            "exemptions[0].material",
            "variant-exemption",
        ),
        (
            {"exemptions": [{"material": "business_licence", "why": {"zh": "已共享"}}]},
            "exemptions[0].material",
            "variant-exemption",
        ),
        ({"offices": {"education": {"phone": "021-1"}}}, "offices.education", "variant-office"),
        ({"division": "440305"}, "division", "variant-division"),
        ({"variant_of": "school-enrollment"}, "variant_of", "variant-base"),
    ],
)
def test_each_override_the_base_does_not_allow_is_named(
    sqlite_url: str, tmp_path: Path, change: dict[str, Any], element: str, rule: str
) -> None:
    engine = _engine(sqlite_url, tmp_path)
    with pytest.raises(DefinitionError) as caught:
        engine.deployments.deploy_files(_overlay(change))
    assert ("bundle.yaml", element, rule) in _rules(caught)


def test_added_items_on_a_base_that_is_not_extensible_are_refused(sqlite_url: str, tmp_path: Path) -> None:
    engine = _engine(sqlite_url, tmp_path)
    local = {
        "key": "local-check",
        "name": {"zh": "属地核查"},
        "department": "market-regulation",
        "task": "Task_local_check",
        "time_limit_days": 0.5,
    }
    with pytest.raises(DefinitionError) as caught:
        engine.deployments.deploy_files(_overlay({"add_items": [local]}))
    assert ("bundle.yaml", "add_items", "variant-not-extensible") in _rules(caught)
    files = _overlay()
    files["process.bpmn"] = (STARTUP / "process.bpmn").read_bytes()
    with pytest.raises(DefinitionError) as caught:
        engine.deployments.deploy_files(files)
    assert ("process.bpmn", "", "variant-diagram") in _rules(caught)


def test_a_scoped_analyst_deploys_variants_inside_its_subtree_only(sqlite_url: str, tmp_path: Path) -> None:
    engine = _engine(sqlite_url, tmp_path)
    with pytest.raises(NotAllowed):
        engine.deployments.deploy_files(read_bundle_dir(XUHUI), "analyst@310101", scope="310101")
    with pytest.raises(NotAllowed):
        engine.deployments.deploy_files(
            _base({"description": {"zh": "新"}}), "analyst@310104", scope="310104"
        )
    assert engine.deployments.deploy_files(read_bundle_dir(XUHUI), "analyst@310104", scope="310104").created
    assert engine.deployments.deploy_files(_overlay({"division": "310101"}), "a", scope="310000").created


def test_a_modeller_save_of_a_variant_version_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    """A variant's deployed files (merged manifest + variant.yaml) are no base bundle."""
    engine = _engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(XUHUI)
    with pytest.raises(DefinitionError) as caught:
        engine.deploy_diagram(KEY, 2, (STARTUP / "process.bpmn").read_text(encoding="utf-8"), "analyst")
    assert ("variant.yaml", "", "variant-file") in _rules(caught)


# --- picking ------------------------------------------------------------------------------


def test_for_division_picks_the_nearest_variant_up_the_tree(db_url: str, tmp_path: Path) -> None:
    engine = _engine(db_url, tmp_path)
    engine.deployments.deploy_dir(XUHUI)  # v2, 徐汇区
    engine.deployments.deploy_files(_overlay({"division": "310000", "name": None}))  # v3, 上海市
    chain = engine.regions.chain
    with engine.db.read() as s:
        pick = engine.deployments.for_division
        assert (pick(s, KEY, chain("310104")).version, pick(s, KEY, chain("310104")).division) == (
            2,
            "310104",
        )
        assert pick(s, KEY, chain("310104003")).division == "310104"  # a street of 徐汇区
        assert pick(s, KEY, chain("310101")).division == "310000"  # 黄浦区: the city-wide one
        assert pick(s, KEY, chain("330106")).division is None  # 杭州市西湖区: the base
        assert pick(s, KEY, ()).division is None
        assert [r.division for r in engine.deployments.variants(s, KEY)] == ["310000", "310104"]


def test_without_a_variant_the_district_gets_the_base(sqlite_url: str, tmp_path: Path) -> None:
    engine = _engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(XUHUI)
    with engine.db.read() as s:
        row = engine.deployments.for_division(s, KEY, engine.regions.chain("310101"))
    assert (row.version, row.division) == (1, None)


def apply_for_startup(engine: Engine, division: str) -> int:
    """An application to enterprise-startup (the bundle's first example) decided in ``division``."""
    manifest = engine.deployments.definition(_latest_base(engine)).manifest
    example = manifest.examples[0]
    data = {**example.data, "address_division": division}
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example.materials}
    return engine.start_case(APPLICANT, KEY, data, materials, division=division).id


def _latest_base(engine: Engine) -> Any:
    with engine.db.read() as s:
        return engine.deployments.latest(s, KEY)


# --- new versions ---------------------------------------------------------------------------


def test_a_new_base_version_re_applies_the_overlay(db_url: str, tmp_path: Path) -> None:
    engine = _engine(db_url, tmp_path)
    engine.deployments.deploy_dir(XUHUI)  # v2
    deployed = engine.deployments.deploy_files(_base({"description": {"zh": "第二版", "en": "Second"}}))
    assert (deployed.version, deployed.created, deployed.skipped) == (3, True, ())
    assert [(d.version, d.division, d.created) for d in deployed.variants] == [(4, "310104", True)]
    with engine.db.read() as s:
        row = engine.deployments.for_division(s, KEY, engine.regions.chain("310104"))
        base = engine.deployments.latest(s, KEY)
    assert (row.version, row.base_id, base.version) == (4, base.id, 3)
    manifest = engine.deployments.definition(row).manifest
    assert manifest.description is not None and manifest.description.zh == "第二版"
    assert manifest.item("business-registration").time_limit_days == 0.5
    assert engine.deployments.deploy_dir(XUHUI) == Deployed(KEY, 4, created=False, division="310104")


def test_an_overlay_that_no_longer_passes_is_skipped_and_reported(sqlite_url: str, tmp_path: Path) -> None:
    engine = _engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(XUHUI)  # v2: registration in 0.5 day
    deployed = engine.deployments.deploy_files(_base(time_limit_days=0.25))  # the base now promises less
    assert deployed.variants == ()
    assert [s.division for s in deployed.skipped] == ["310104"]
    assert {p.rule for p in deployed.skipped[0].problems} == {"variant-time-limit"}
    with engine.db.read() as s:
        row = engine.deployments.for_division(s, KEY, engine.regions.chain("310104"))
        assert engine.deployments.variants(s, KEY) == []
    assert (row.version, row.division) == (3, None)


def test_a_running_case_keeps_the_variant_version_it_started_on(sqlite_url: str, tmp_path: Path) -> None:
    engine = _engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(XUHUI)  # v2
    case_id = apply_for_startup(engine, "310104")
    with engine.db.read() as s:
        started_on = s.get(Case, case_id)
        assert started_on is not None
        first = engine.deployments.row(s, started_on.deployment_id)
    assert (first.version, first.division) == (2, "310104")
    newer = engine.deployments.deploy_files(
        _overlay({"items": {"business-registration": {"time_limit_days": 0.25}}, "version": 2})
    )
    assert (newer.version, newer.created) == (3, True)
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.deployment_id == first.id
    later = apply_for_startup(engine, "310104")
    with engine.db.read() as s:
        case = s.get(Case, later)
        assert case is not None
        assert engine.deployments.row(s, case.deployment_id).version == 3


# --- an extensible base ---------------------------------------------------------------------


def _extensible(tmp_path: Path) -> Path:
    """valid-minimal, marked extensible, as a folder of its own."""
    folder = tmp_path / "valid-minimal"
    folder.mkdir()
    raw = yaml.safe_load((MINIMAL / "bundle.yaml").read_text(encoding="utf-8"))
    raw["extensible"] = True
    (folder / "bundle.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    (folder / "process.bpmn").write_bytes((MINIMAL / "process.bpmn").read_bytes())
    return folder


LOCAL_ITEM = {
    "key": "local-check",
    "name": {"zh": "属地消防安全告知", "en": "Local fire-safety notice"},
    "department": "market-regulation",
    "task": "local_check",
    "time_limit_days": 0.5,
    "fields": ["company_name"],
}


def _with_local_task(diagram: str) -> str:
    """The valid-minimal diagram with a market-regulation task between the merge and the end."""
    return diagram.replace(
        "<bpmn:flowNodeRef>route</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>route</bpmn:flowNodeRef>\n"
        "        <bpmn:flowNodeRef>local_check</bpmn:flowNodeRef>",
    ).replace(
        '<bpmn:sequenceFlow id="f6" sourceRef="merge" targetRef="end"/>',
        '<bpmn:userTask id="local_check" name="属地告知"/>\n'
        '    <bpmn:sequenceFlow id="f6" sourceRef="merge" targetRef="local_check"/>\n'
        '    <bpmn:sequenceFlow id="f7" sourceRef="local_check" targetRef="end"/>',
    )


def test_an_extensible_base_takes_local_items_with_a_diagram_keeping_its_tasks(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url, tmp_path)
    engine.regions.load_shipped(PROCESSES / "divisions")
    engine.deployments.deploy_dir(_extensible(tmp_path))
    overlay = {
        "variant_of": "valid-minimal",
        "division": "330106",
        "version": 1,
        "add_items": [LOCAL_ITEM],
    }
    files = {"bundle.yaml": yaml.safe_dump(overlay, allow_unicode=True).encode("utf-8")}
    with pytest.raises(DefinitionError) as caught:
        engine.deployments.deploy_files(files)
    assert ("bundle.yaml", "add_items", "variant-diagram-missing") in _rules(caught)
    diagram = _with_local_task((MINIMAL / "process.bpmn").read_text(encoding="utf-8"))
    missing = diagram.replace('id="register_tax"', 'id="register_tax_local"').replace(
        'targetRef="register_tax"', 'targetRef="register_tax_local"'
    )
    with pytest.raises(DefinitionError) as caught:
        engine.deployments.deploy_files({**files, "process.bpmn": missing.encode("utf-8")})
    assert ("process.bpmn", "register_tax", "variant-task-missing") in _rules(caught)
    deployed = engine.deployments.deploy_files({**files, "process.bpmn": diagram.encode("utf-8")})
    assert (deployed.version, deployed.division) == (2, "330106")
    with engine.db.read() as s:
        row = engine.deployments.for_division(s, "valid-minimal", engine.regions.chain("330106"))
    assert [i.key for i in engine.deployments.definition(row).manifest.items][-1] == "local-check"
    assert 'id="local_check"' in row.files["process.bpmn"]


def test_an_item_pinned_to_a_division_the_tree_does_not_know_is_refused(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = _engine(sqlite_url, tmp_path)
    with pytest.raises(DefinitionError) as caught:
        engine.deployments.deploy_files(_base(division={"fixed": "310199"}))
    assert ("bundle.yaml", "items[business-registration].division.fixed", "division-unknown") in _rules(
        caught
    )
    pinned = engine.deployments.deploy_files(_base(division={"fixed": "310000"}, decided_at="province"))
    assert (pinned.version, pinned.created) == (2, True)
