"""Fields found by their labels among OCR boxes: skewed pages, values under labels, wrapped addresses.

These tests build the boxes OCR would return, so they check the layout logic without running OCR.
"""

from __future__ import annotations

import math

from engine.reading.extraction import LAYOUT_SPECS, extract
from engine.reading.lines import group_lines
from engine.reading.ocr import TextBox
from forms.checks import resident_id_check_char, uscc_check_char
from forms.layouts import DOCUMENT_LAYOUTS

USCC = "91310115MA1K3YXB5" + uscc_check_char("91310115MA1K3YXB5")
RESIDENT_ID = "11010519491231002" + resident_id_check_char("11010519491231002")


def box(text: str, left: float, top: float, width: float | None = None, score: float = 0.99) -> TextBox:
    right = left + (width if width is not None else 30 * len(text))
    corners = ((left, top), (right, top), (right, top + 30), (left, top + 30))
    return TextBox(corners, text, score)


def tilted(boxes: list[TextBox], degrees: float) -> list[TextBox]:
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    return [
        TextBox(tuple((x * cos - y * sin, x * sin + y * cos) for x, y in b.points), b.text, b.score)
        for b in boxes
    ]


LICENCE = [
    box("营业执照", 600, 40),
    box("统一社会信用代码", 60, 150),
    box(USCC.replace("0", "O"), 60, 195),  # OCR's O for 0 in the code printed under its label
    box("名称", 60, 300),
    box("上海华盛科技有限公司", 250, 300),
    box("注册资本", 800, 300),
    box("人民币壹佰万元整", 990, 300),
    box("类型", 60, 380),
    box("有限责任公司", 250, 380),
    box("成立日期", 800, 380),
    box("2020年01月02日", 990, 380),
    box("法定代表人", 60, 460),
    box("张三", 250, 460),
    box("住所", 800, 460),
    box("上海市浦东新区张江路", 990, 460),
    box("1号2楼", 990, 500),
    box("经营范围", 60, 560),
    box("技术服务", 250, 560),
    box("登记机关", 800, 700),
    box("2024年03月05日", 900, 780),
]
EXPECTED = {
    "name": "上海华盛科技有限公司",
    "uscc": USCC,
    "legal_representative": "张三",
    "address": "上海市浦东新区张江路1号2楼",
    "registered_capital": "100",
    "established": "2020-01-02",
    "issued": "2024-03-05",
}


def values(layout: str, boxes: list[TextBox]) -> dict[str, str]:
    return {name: reading.value for name, reading in extract(layout, group_lines(boxes)).items()}


def test_every_layout_the_catalog_knows_is_read_field_for_field() -> None:
    assert {key: tuple(spec.kinds) for key, spec in LAYOUT_SPECS.items()} == dict(DOCUMENT_LAYOUTS)


def test_a_licence_gives_every_field_from_its_labels() -> None:
    assert values("business-licence", LICENCE) == EXPECTED


def test_a_page_four_degrees_askew_gives_the_same_fields() -> None:
    assert values("business-licence", tilted(LICENCE, 4)) == EXPECTED
    assert values("business-licence", tilted(LICENCE, -3)) == EXPECTED


def test_a_label_and_its_value_read_as_one_box_are_split() -> None:
    boxes = [box("名称上海华盛科技有限公司", 60, 300), box("法定代表人张三", 60, 380)]
    assert values("business-licence", boxes) == {
        "name": "上海华盛科技有限公司",
        "legal_representative": "张三",
    }


def test_a_letter_spaced_label_read_one_character_a_box_is_still_a_label() -> None:
    boxes = [
        box("名", 60, 300),
        box("称", 180, 300),
        box("上海华盛科技有限公司", 250, 300),
        box("住", 800, 300),
    ]
    boxes += [box("所", 920, 300), box("上海市浦东新区张江路1号", 990, 300)]
    assert values("business-licence", boxes) == {
        "name": "上海华盛科技有限公司",
        "address": "上海市浦东新区张江路1号",
    }


def test_a_code_failing_its_check_digit_is_left_out_rather_than_guessed() -> None:
    broken = [b if b.text != USCC.replace("0", "O") else box(USCC[:17] + "0", 60, 195) for b in LICENCE]
    assert "uscc" not in values("business-licence", broken)


def test_confidence_is_the_mean_of_the_boxes_a_value_came_from() -> None:
    boxes = [box("姓名", 60, 60, score=0.9), box("张三", 200, 60, score=0.7)]
    [(name, reading)] = extract("resident-id-card", group_lines(boxes)).items()
    assert name == "name" and reading.value == "张三" and math.isclose(reading.confidence, 0.8)


def test_an_id_card_face_gives_name_sex_birth_address_and_number() -> None:
    card = [
        box("姓名", 60, 60),
        box("王小明", 200, 60),
        box("性别", 60, 140),
        box("男", 200, 140),
        box("民族", 320, 140),
        box("汉", 430, 140),
        box("出生", 60, 220),
        box("1949", 200, 220),
        box("年", 340, 220),
        box("12", 400, 220),
        box("月", 470, 220),
        box("31", 520, 220),
        box("日", 590, 220),
        box("住址", 60, 300),
        box("北京市朝阳区建国路", 200, 300),
        box("88号", 200, 345),
        box("公民身份号码", 60, 500),
        box(RESIDENT_ID, 330, 500),
    ]
    assert values("resident-id-card", card) == {
        "name": "王小明",
        "sex": "male",
        "birth_date": "1949-12-31",
        "address": "北京市朝阳区建国路88号",
        "id_number": RESIDENT_ID,
    }


def test_a_birth_certificate_reads_the_mother_and_not_the_father() -> None:
    father = "11010519491231003" + resident_id_check_char("11010519491231003")
    certificate = [
        box("出生医学证明", 400, 60),
        box("编号", 700, 150),
        box("P440012345", 800, 150),
        box("新生儿姓名", 60, 250),
        box("李小雨", 400, 250),
        box("性别", 60, 330),
        box("女", 400, 330),
        box("出生时间", 60, 410),
        box("2024年03月05日10时20分", 400, 410),
        box("父亲身份证件号码", 60, 490),
        box(father, 400, 490),
        box("母亲姓名", 60, 570),
        box("赵丽", 400, 570),
        box("母亲身份证件号码", 60, 650),
        box(RESIDENT_ID, 400, 650),
    ]
    assert values("birth-certificate", certificate) == {
        "child_name": "李小雨",
        "sex": "female",
        "birth_date": "2024-03-05",
        "mother_name": "赵丽",
        "mother_id": RESIDENT_ID,
        "certificate_number": "P440012345",
    }


def test_an_id_number_without_its_label_is_found_anywhere_on_the_card() -> None:
    assert values(
        "resident-id-card", [box("姓名", 60, 60), box("张三", 200, 60), box(RESIDENT_ID, 300, 500)]
    ) == {
        "name": "张三",
        "id_number": RESIDENT_ID,
    }
