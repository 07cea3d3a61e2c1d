"""Tasks go to the office of their department in the case's (or the item's) division.

Offices are opened with ``Regions.add_office`` at 黄浦区 (310101) and 徐汇区 (310104), and at
浙江省 (330000) with two of Hangzhou's districts, 上城区 (330102) and 拱墅区 (330105); every
department also has its implicit office at the default division (上海市, 310000). Each
test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.states import Outcome
from engine.errors import InvalidInput, WorkItemNotFound
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import Case, WorkItem
from tests.support.engines import ANALYST, APPLICANT, make_engine, upload

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = ROOT / "processes"
BUNDLES = Path(__file__).resolve().parent / "bundles"
MARKET = "market-regulation"
OFFICES = ("310101", "310104", "330000", "330102", "330105")


def office_clerk(division: str, department: str = MARKET) -> Actor:
    """A clerk of one department's office in a division (``clerk.<department>@<division>``)."""
    return Actor(f"clerk.{department}@{division}", Role.CLERK, frozenset({department}), division=division)


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path)
    eng.regions.load_shipped(PROCESSES / "divisions")
    for code in OFFICES:
        eng.regions.add_office(None, MARKET, code)
    yield eng
    eng.close()


def startup_example(engine: Engine) -> tuple[dict[str, Any], dict[str, str]]:
    """The shipped enterprise-startup bundle deployed; its first example's data and uploaded materials."""
    engine.deployments.deploy_dir(PROCESSES / "enterprise-startup")
    example = engine.bundle_detail("enterprise-startup").examples[0]
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    return dict(example["data"]), materials


def rows_of(engine: Engine, case_id: int) -> list[WorkItem]:
    """The task rows of a case, oldest first, as stored."""
    with engine.db.read() as s:
        return list(s.scalars(select(WorkItem).where(WorkItem.case_id == case_id).order_by(WorkItem.id)))


def open_row(engine: Engine, case_id: int, item: str) -> WorkItem:
    """The open task row of an item."""
    (row,) = [r for r in rows_of(engine, case_id) if r.item_key == item and r.state in ("ready", "claimed")]
    return row


def approve(engine: Engine, clerk: Actor, work_item_id: int, decision: dict[str, Any] | None = None) -> None:
    """The clerk claims and approves the task."""
    engine.claim(clerk, work_item_id)
    engine.complete(clerk, work_item_id, Outcome.APPROVE, decision or {}, "同意")


def test_the_same_bundle_applied_from_two_districts_lands_in_two_queues(engine: Engine) -> None:
    data, materials = startup_example(engine)
    huangpu = engine.start_case(
        APPLICANT, "enterprise-startup", {**data, "address_division": "310101"}, materials
    )
    xuhui = engine.start_case(
        APPLICANT, "enterprise-startup", {**data, "address_division": "310104"}, materials
    )

    assert (huangpu.division, xuhui.division) == ("310101", "310104")
    first = open_row(engine, huangpu.id, "business-registration")
    second = open_row(engine, xuhui.id, "business-registration")
    assert (first.department, first.division) == (MARKET, "310101")
    assert (second.department, second.division) == (MARKET, "310104")

    assert [t.id for t in engine.list_tasks(office_clerk("310101")).items] == [first.id]
    assert [t.id for t in engine.list_tasks(office_clerk("310104")).items] == [second.id]
    # A clerk of one district gets 404 for the other's task, reading or claiming it.
    with pytest.raises(WorkItemNotFound):
        engine.get_task(office_clerk("310101"), second.id)
    with pytest.raises(WorkItemNotFound):
        engine.claim(office_clerk("310101"), second.id)


def test_later_items_follow_the_case_division_and_a_district_without_an_office_goes_up(
    engine: Engine,
) -> None:
    data, materials = startup_example(engine)
    case = engine.start_case(
        APPLICANT, "enterprise-startup", {**data, "address_division": "310101"}, materials
    )
    registration = open_row(engine, case.id, "business-registration")
    approve(engine, office_clerk("310101"), registration.id, {"uscc": "91310115MA1K4B7C2U"})

    later = {
        r.item_key: r.division for r in rows_of(engine, case.id) if r.item_key != "business-registration"
    }
    # Only market regulation has an office at 黄浦区: the others' tasks go up to 上海市's.
    assert later and set(later.values()) == {"310000"}
    assert "seal-engraving" in later


def test_a_province_level_item_lands_at_the_province_office_whatever_the_district(engine: Engine) -> None:
    engine.deployments.deploy_dir(BUNDLES / "province-permit")
    base = {"company_name": "杭州一件事科技有限公司", "address": "浙江省杭州市解放路1号"}
    province = office_clerk("330000")
    permits: dict[int, int] = {}  # case id -> its permit task
    for district in ("330102", "330105"):
        case = engine.start_case(APPLICANT, "province-permit", {**base, "address_division": district}, {})
        registration = open_row(engine, case.id, "registration")
        assert registration.division == district  # the district registers (decided_at: county)
        approve(engine, office_clerk(district), registration.id)
        permit = open_row(engine, case.id, "special-permit")
        assert permit.division == "330000"
        permits[case.id] = permit.id

    assert sorted(t.id for t in engine.list_tasks(province).items) == sorted(permits.values())
    assert engine.list_tasks(office_clerk("330102")).items == ()
    for case_id, permit_id in permits.items():
        approve(engine, province, permit_id)
        assert engine.get_case(ANALYST, case_id).status == "completed"


def test_an_unknown_division_is_handled_at_the_default(engine: Engine) -> None:
    data, materials = startup_example(engine)
    # 深圳市南山区: a real code, but not a division of this platform.
    case = engine.start_case(
        APPLICANT, "enterprise-startup", {**data, "address_division": "440305"}, materials
    )
    assert case.division == "310000"
    assert open_row(engine, case.id, "business-registration").division == "310000"
    with engine.db.read() as s:
        stored = s.get(Case, case.id)
        assert stored is not None and stored.data["address_division"] == "440305"  # kept as written
    assert [t.id for t in engine.list_tasks(office_clerk("310000")).items] == [
        open_row(engine, case.id, "business-registration").id
    ]


def test_a_division_asked_for_decides_over_the_data_and_an_unknown_one_is_listed_with_the_rest(
    engine: Engine,
) -> None:
    data, materials = startup_example(engine)
    case = engine.start_case(
        APPLICANT, "enterprise-startup", {**data, "address_division": "310104"}, materials, division="310101"
    )
    assert case.division == "310101"
    assert open_row(engine, case.id, "business-registration").division == "310101"

    broken = {k: v for k, v in data.items() if k != "company_name"}
    with pytest.raises(InvalidInput) as refused:
        engine.start_case(APPLICANT, "enterprise-startup", broken, materials, division="310199")
    where = {p.where for p in refused.value.problems}
    assert {"division", "company_name"} <= where


def test_items_of_one_bundle_run_in_two_divisions(engine: Engine) -> None:
    """多地联办: the company moves from 黄浦区 to 徐汇区; each district's office does its part."""
    engine.deployments.deploy_dir(BUNDLES / "enterprise-migration")
    data = {
        "company_name": "上海一件事科技有限公司",
        "uscc": "91350100M000100Y43",
        "address": "上海市黄浦区中山东一路1号",
        "address_division": "310101",
        "new_address_division": "310104",
    }
    proof = {"premises_proof": upload(engine, APPLICANT, "premises_proof")}
    case = engine.start_case(APPLICANT, "enterprise-migration", data, proof)
    assert case.division == "310101"  # the first division field of the form
    out = open_row(engine, case.id, "migrate-out")
    assert out.division == "310101"
    assert engine.list_tasks(office_clerk("310104")).items == ()
    approve(engine, office_clerk("310101"), out.id)

    into = open_row(engine, case.id, "migrate-in")
    assert (into.department, into.division) == (MARKET, "310104")
    assert [t.id for t in engine.list_tasks(office_clerk("310104")).items] == [into.id]
    assert engine.list_tasks(office_clerk("310101")).items == ()
    with pytest.raises(WorkItemNotFound):
        engine.claim(office_clerk("310101"), into.id)
    approve(engine, office_clerk("310104"), into.id)
    assert engine.get_case(APPLICANT, case.id).status == "completed"


def test_a_case_runs_on_the_variant_of_its_division(engine: Engine) -> None:
    data, materials = startup_example(engine)
    base_version = engine.bundle_detail("enterprise-startup").summary.version
    engine.deployments.deploy_dir(PROCESSES / "enterprise-startup" / "variants" / "310104")
    without_proof = {k: v for k, v in materials.items() if k != "premises_proof"}

    # 徐汇区's variant exempts the premises proof (住所承诺制): an application from there runs on it.
    xuhui = engine.start_case(
        APPLICANT, "enterprise-startup", {**data, "address_division": "310104"}, without_proof
    )
    assert xuhui.version > base_version
    with engine.db.read() as s:
        stored = s.get(Case, xuhui.id)
        assert stored is not None
        assert engine.deployments.row(s, stored.deployment_id).division == "310104"
    # 黄浦区 has no variant: the base still asks for the proof.
    with pytest.raises(InvalidInput) as refused:
        engine.start_case(
            APPLICANT, "enterprise-startup", {**data, "address_division": "310101"}, without_proof
        )
    assert [p.where for p in refused.value.problems] == ["premises_proof"]
    huangpu = engine.start_case(
        APPLICANT, "enterprise-startup", {**data, "address_division": "310101"}, materials
    )
    assert huangpu.version == base_version


def test_a_step_a_department_system_finishes_by_message_waits_at_the_routed_office(engine: Engine) -> None:
    """The hospital's system issues the 出生医学证明 by message: its row waits at 黄浦区's health office."""
    engine.regions.add_office(None, "health", "310101")
    engine.deployments.deploy_dir(PROCESSES / "newborn-birth")
    example = engine.bundle_detail("newborn-birth").examples[0]
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    case = engine.start_case(APPLICANT, "newborn-birth", example["data"], materials, division="310101")
    waiting = open_row(engine, case.id, "birth-certificate")
    assert (waiting.kind, waiting.department, waiting.division) == ("message", "health", "310101")
    # Departments without an office at 黄浦区 wait at 上海市's.
    others = {r.division for r in rows_of(engine, case.id) if r.department != "health"}
    assert others <= {"310000"}
