"""The division tree and the shipped division files, without a database.

The shipped files are real GB/T 2260 data: the counts and a few codes are checked against
the 民政部 list, so a typo in a code or a lost district fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import DefinitionError
from engine.regions.loading import read_division_file, read_divisions_dir
from engine.regions.tree import Division, DivisionTree, Level
from engine.storage.settings import shipped_processes_dir

SHIPPED = shipped_processes_dir() / "divisions"
SHANGHAI_DISTRICTS = {
    "310101": "黄浦区", "310104": "徐汇区", "310105": "长宁区", "310106": "静安区", "310107": "普陀区",
    "310109": "虹口区", "310110": "杨浦区", "310112": "闵行区", "310113": "宝山区", "310114": "嘉定区",
    "310115": "浦东新区", "310116": "金山区", "310117": "松江区", "310118": "青浦区", "310120": "奉贤区",
    "310151": "崇明区",
}  # fmt: skip
HANGZHOU = {
    "330102": "上城区", "330105": "拱墅区", "330106": "西湖区", "330108": "滨江区", "330109": "萧山区",
    "330110": "余杭区", "330111": "富阳区", "330112": "临安区", "330113": "临平区", "330114": "钱塘区",
    "330122": "桐庐县", "330127": "淳安县", "330182": "建德市",
}  # fmt: skip


@pytest.fixture(scope="module")
def tree() -> DivisionTree:
    return DivisionTree(read_divisions_dir(SHIPPED))


def test_shipped_shanghai_is_a_municipality_with_its_16_districts_directly_below(tree: DivisionTree) -> None:
    assert tree.roots() == ("310000", "330000")
    shanghai = tree.get("310000")
    assert shanghai == Division("310000", "上海市", "Shanghai", Level.PROVINCE, None)
    assert {c: tree.get(c).name_zh for c in tree.children("310000")} == SHANGHAI_DISTRICTS  # type: ignore[union-attr]
    assert {tree.level_of(c) for c in SHANGHAI_DISTRICTS} == {Level.COUNTY}


def test_shipped_zhejiang_has_11_cities_and_90_counties(tree: DivisionTree) -> None:
    cities = tree.children("330000")
    assert len(cities) == 11
    assert {tree.level_of(c) for c in cities} == {Level.CITY}
    counties = [c for city in cities for c in tree.children(city)]
    assert len(counties) == 90
    assert all(c[:4] == tree.get(c).parent[:4] for c in counties)  # type: ignore[index,union-attr]
    assert {c: tree.get(c).name_zh for c in tree.children("330100")} == HANGZHOU  # type: ignore[union-attr]
    assert tree.get("330383").name_zh == "龙港市"  # type: ignore[union-attr]
    assert tree.get("331083").name_zh == "玉环市"  # type: ignore[union-attr]
    assert len(tree) == 1 + 16 + 1 + 11 + 90


def test_ancestors_subtree_and_full_names(tree: DivisionTree) -> None:
    assert tree.ancestors("330106") == ("330106", "330100", "330000")
    assert tree.ancestors("310115") == ("310115", "310000")
    assert tree.ancestors("999999") == ()
    assert tree.subtree("330100") == frozenset({"330100", *HANGZHOU})
    assert len(tree.subtree("330000")) == 1 + 11 + 90
    assert tree.subtree("330106") == frozenset({"330106"})
    assert tree.subtree("999999") == frozenset({"999999"})
    assert tree.full_name("310115") == "上海市浦东新区"
    assert tree.full_name("330106") == "浙江省杭州市西湖区"
    assert tree.full_name("330106", "en") == "Xihu District, Hangzhou, Zhejiang"
    assert tree.full_name("999999") == "999999"


def test_at_level_lifts_to_the_decision_level_and_a_municipality_has_no_city_level(
    tree: DivisionTree,
) -> None:
    township = DivisionTree(
        [*read_divisions_dir(SHIPPED), Division("330106001", "北山街道", "", Level.TOWNSHIP, "330106")]
    )
    assert township.at_level("330106001", Level.COUNTY) == "330106"
    assert tree.at_level("330106", Level.COUNTY) == "330106"
    assert tree.at_level("330106", Level.CITY) == "330100"
    assert tree.at_level("330106", Level.PROVINCE) == "330000"
    assert tree.at_level("330100", Level.COUNTY) == "330100"  # already above: stays
    assert tree.at_level("310115", Level.CITY) == "310000"  # 直辖市: the city level is the root
    assert tree.at_level("310115", Level.PROVINCE) == "310000"
    assert tree.at_level("999999", Level.CITY) == "999999"


def test_a_child_whose_parent_is_unknown_is_a_root_and_cycles_cannot_loop() -> None:
    tree = DivisionTree(
        [
            Division("110000", "北京市", "Beijing", Level.PROVINCE, "000000"),
            Division("110101", "东城区", "", Level.COUNTY, "110000"),
        ]
    )
    assert tree.roots() == ("110000",)
    assert tree.full_name("110101", "en") == "东城区, Beijing"  # no English name: the Chinese one
    loop = DivisionTree(
        [
            Division("120000", "甲", "", Level.PROVINCE, "130000"),
            Division("130000", "乙", "", Level.PROVINCE, "120000"),
        ]
    )
    assert loop.ancestors("120000") == ("120000", "130000")
    assert loop.subtree("120000") == frozenset({"120000", "130000"})


def test_a_bad_division_file_is_refused_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        'code: "320000"\nzh: 江苏省\nlevel: province\nchildren:\n'
        '  - {code: "3201", zh: 南京市, level: city}\n'
        '  - {code: "320200", zh: 无锡市, level: province}\n'
        '  - {code: "320300", zh: "", level: city, colour: red}\n'
        '  - {code: "320200", zh: 无锡市, level: city}\n',
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as caught:
        read_division_file(path)
    text = " | ".join(p.message for p in caught.value.problems)
    assert "3201: code must be 6, 9 or 12 digits" in text
    assert "320200: level province is not below its parent's" in text
    assert "320300: zh name is required" in text
    assert "unknown keys ['colour']" in text
    assert "code 320200 appears twice" in text


def test_a_missing_folder_has_no_divisions(tmp_path: Path) -> None:
    assert read_divisions_dir(tmp_path / "none") == []
