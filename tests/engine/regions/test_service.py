"""The regions service on a real database (SQLite and PostgreSQL): loading, routing, offices, scopes.

Routing is checked on the shipped tree with the demo offices (黄浦区, 徐汇区, 浙江省, 杭州市,
上城区, 拱墅区) and the default division 310000, where every department has an office.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.regions.service import RELOAD_SECONDS, Regions
from engine.storage.db import Database
from engine.storage.settings import Settings, shipped_processes_dir

SHIPPED = shipped_processes_dir() / "divisions"
MR = "market-regulation"


class Ticks:
    """A monotonic clock the test moves by hand (the service's reload interval)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


def regions_on(db: Database, tmp_path: Path, ticks: Ticks | None = None, default: str = "310000") -> Regions:
    config = Settings(database_url=db.url, data_dir=tmp_path / "var", default_division=default)
    return Regions(db, config, monotonic=ticks or Ticks())


@pytest.fixture
def regions(db: Database, tmp_path: Path) -> Regions:
    service = regions_on(db, tmp_path)
    assert service.load_shipped(SHIPPED) == 119
    assert service.ensure_demo_offices() == 6 * len(service.departments())
    return service


def test_default_division_must_be_a_gbt2260_code() -> None:
    assert Settings(default_division="330100").default_division == "330100"
    assert Settings(default_division="330106001").default_division == "330106001"
    for bad in ("31000", "3100000", "31000a", "３１００００", ""):
        with pytest.raises(ValidationError):
            Settings(default_division=bad)


def test_load_shipped_inserts_new_codes_only_and_keeps_admin_edits(db: Database, tmp_path: Path) -> None:
    first = regions_on(db, tmp_path)
    assert first.load_shipped(SHIPPED) == 119
    first.rename_division(None, "310115", name_zh="浦东", name_en="Pudong")
    assert first.load_shipped(SHIPPED) == 0
    again = regions_on(db, tmp_path)  # another process starting on the same database
    assert again.load_shipped(SHIPPED) == 0
    assert again.tree().full_name("310115") == "上海市浦东"
    assert len(again.tree()) == 119
    assert again.ensure_demo_offices() == 6 * len(again.departments())
    assert again.ensure_demo_offices() == 0


@pytest.mark.parametrize(
    ("division", "decided_at", "office"),
    [
        ("330102", "county", "330102"),  # 上城区 has its own office
        ("330106", "county", "330100"),  # 西湖区 has none: 杭州市's
        ("330102", "city", "330100"),
        ("330102", "province", "330000"),
        ("330212", "county", "330000"),  # 宁波市鄞州区: no office in Ningbo, the province's
        ("310101", "county", "310101"),
        ("310101", "city", "310000"),  # 直辖市: no city level, the municipality decides
        ("310115", "county", "310000"),  # 浦东新区 has no office: the default's
        ("999999", "county", "310000"),  # unknown: the default
        (None, "county", "310000"),
        ("330102001", "county", "330102"),  # a township code not in the tree: its county
        ("330102001", "city", "330100"),
    ],
)
def test_route_finds_the_nearest_office_at_or_above_the_decision_level(
    regions: Regions, division: str | None, decided_at: str, office: str
) -> None:
    assert regions.route(MR, division, decided_at) == office


def test_a_township_in_the_tree_is_decided_at_its_county(regions: Regions) -> None:
    regions.add_division(None, "330106001", "北山街道", "Beishan Subdistrict", "township", "330106")
    regions.add_office(None, MR, "330106001")
    assert regions.home("330106001") == "330106001"
    assert regions.route(MR, "330106001") == "330100"  # county level: 西湖区, no office there
    regions.add_office(None, MR, "330106")
    assert regions.route(MR, "330106001") == "330106"
    assert regions.route("tax", "330106001") == "330100"  # per department


def test_another_default_division_is_an_office_of_every_department(db: Database, tmp_path: Path) -> None:
    service = regions_on(db, tmp_path, default="330100")
    service.load_shipped(SHIPPED)
    assert service.default == "330100"
    assert service.route(MR, "330106") == "330100"
    assert service.route(MR, "310101") == "330100"  # no office anywhere in Shanghai
    assert service.route(MR, "330106", "province") == "330100"  # no province office: the default
    assert service.has_office(MR, "330100") and not service.has_office(MR, "310000")
    assert service.own(None) == "330100" and service.own("310101") == "310101"


def test_offices_have_derived_or_explicit_names_and_contacts(regions: Regions) -> None:
    assert regions.has_office(MR, "310000")  # implicit at the default
    assert regions.has_office(MR, "310101") and not regions.has_office(MR, "310115")
    assert regions.office_name(MR, "310101") == "上海市黄浦区市场监督管理局"
    assert regions.office_name(MR, "310101", "en") == "Market regulation, Huangpu District, Shanghai"
    implicit = regions.office(MR, "310000")
    assert implicit.id is None and implicit.implicit and implicit.name_zh == "上海市市场监督管理局"
    with pytest.raises(NotFound):
        regions.office(MR, "310115")

    added = regions.add_office(None, MR, "310115", name_zh="浦东新区市场监管局", phone="021-12345")
    assert added.id is not None and not added.implicit
    assert regions.route(MR, "310115") == "310115"
    assert regions.office_name(MR, "310115") == "浦东新区市场监管局"
    assert regions.office_name(MR, "310115", "en") == "Market regulation, Pudong New Area, Shanghai"
    changed = regions.update_office(None, added.id, hours="9:00-17:00", name_zh="")
    assert (changed.phone, changed.hours, changed.name_zh) == (
        "021-12345",
        "9:00-17:00",
        "上海市浦东新区市场监督管理局",
    )
    assert regions.office(MR, "310115") == changed

    with pytest.raises(Conflict):
        regions.add_office(None, MR, "310115")
    with pytest.raises(InvalidInput):
        regions.add_office(None, "no-such-department", "310115")
    with pytest.raises(NotFound):
        regions.add_office(None, MR, "310199")
    with pytest.raises(InvalidInput):
        regions.update_office(None, added.id, phone="1" * 65)
    with pytest.raises(NotFound):
        regions.update_office(None, 10**9, phone="1")

    listed = regions.offices(division="310115")
    assert [(o.department, o.division) for o in listed] == [(MR, "310115")]
    at_default = regions.offices(division="310000")
    assert len(at_default) == len(regions.departments()) and all(o.implicit for o in at_default)
    mr = regions.offices(department=MR)
    assert [o.division for o in mr] == sorted(
        ["310000", "310101", "310104", "310115", "330000", "330100", "330102", "330105"]
    )


def test_admin_scope_is_the_subtree_of_the_admins_division(regions: Regions) -> None:
    assert regions.in_scope(None, "310101")
    assert regions.in_scope("330100", "330100") and regions.in_scope("330100", "330106")
    assert not regions.in_scope("330100", "330000") and not regions.in_scope("330100", "310101")
    assert regions.subtree(None) is None
    assert regions.subtree("330100") == regions.tree().subtree("330100")

    regions.add_division("330100", "330106001", "北山街道", "Beishan Subdistrict", "township", "330106")
    with pytest.raises(NotAllowed):
        regions.add_division("330100", "310101001", "南京东路街道", "", "township", "310101")
    with pytest.raises(NotAllowed):
        regions.add_division("330100", "320000", "江苏省", "Jiangsu", "province", None)
    with pytest.raises(InvalidInput):
        regions.add_division(None, "330106002", "x", "", "city", "330106")  # not below its parent
    with pytest.raises(InvalidInput):
        regions.add_division(None, "33010600", "x", "", "township", "330106")
    with pytest.raises(Conflict):
        regions.add_division(None, "330106001", "北山街道", "", "township", "330106")
    with pytest.raises(NotFound):
        regions.add_division(None, "330199001", "x", "", "township", "330199")
    root = regions.add_division(None, "320000", "江苏省", "Jiangsu", "province", None)
    assert root.parent is None and "320000" in regions.tree().roots()

    renamed = regions.rename_division("330100", "330106", name_en="West Lake District")
    assert renamed.name_zh == "西湖区"
    assert regions.tree().full_name("330106", "en") == "West Lake District, Hangzhou, Zhejiang"
    with pytest.raises(NotAllowed):
        regions.rename_division("330100", "310101", name_zh="黄浦")
    with pytest.raises(NotAllowed):
        regions.add_office("310101", MR, "310104")
    with pytest.raises(NotAllowed):
        regions.update_office("310101", regions.office(MR, "310104").id or 0, phone="1")
    assert regions.add_office("330100", MR, "330106").division == "330106"


def test_edits_from_another_process_show_after_the_reload_interval(db: Database, tmp_path: Path) -> None:
    ticks = Ticks()
    reader = regions_on(db, tmp_path, ticks)
    writer = regions_on(db, tmp_path)
    writer.load_shipped(SHIPPED)
    assert len(reader.tree()) == 119
    writer.add_office(None, MR, "310115")
    writer.rename_division(None, "310115", name_zh="浦东")
    assert reader.route(MR, "310115") == "310000"  # still the cached snapshot
    ticks.now += RELOAD_SECONDS - 1
    assert reader.tree().full_name("310115") == "上海市浦东新区"
    ticks.now += 1
    assert reader.route(MR, "310115") == "310115"
    assert reader.tree().full_name("310115") == "上海市浦东"
