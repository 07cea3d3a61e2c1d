"""Normal forms: what OCR reads and what applicants type become comparable."""

from __future__ import annotations

import pytest

from engine.reading import normalise


def test_full_width_characters_and_spaces_are_folded() -> None:
    assert normalise.half_width("ＡＢＣ１２３（）") == "ABC123()"
    assert normalise.compact(" 张　三 ") == "张三"
    assert normalise.name("欧阳 • 娜娜") == "欧阳·娜娜"
    assert normalise.name("  ") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年3月5日", "2024-03-05"),
        ("2024 年 03 月 05 日10时20分", "2024-03-05"),
        ("２０２４．３．５", "2024-03-05"),
        ("2024-3-5", "2024-03-05"),
        ("2023年2月29日", None),
        ("长期", None),
    ],
)
def test_dates_are_read_in_every_printed_form(text: str, expected: str | None) -> None:
    assert normalise.iso_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("人民币壹佰万元整", "100"),
        ("人民币100万元", "100"),
        ("伍拾万元", "50"),
        ("壹仟零伍拾万元整", "1050"),
        ("壹拾万元整", "10"),
        ("叁佰万元", "300"),
        ("100.50万元", "100.5"),
        ("人民币1000000元", "100"),
        ("一百万", "100"),
        ("若干", None),
    ],
)
def test_registered_capital_is_read_in_wan_yuan(text: str, expected: str | None) -> None:
    assert normalise.capital_wan(text) == expected


def test_credit_codes_are_upper_case_with_look_alike_letters_as_digits() -> None:
    assert normalise.credit_code("91310115ma1k3yxb5o") == "91310115MA1K3YXB50"
    assert normalise.credit_code("9131 0115 MA1K 3YXB 5Q") == "91310115MA1K3YXB5Q"  # Q is in the alphabet
    assert normalise.credit_code("913101") is None


def test_id_numbers_take_a_capital_x_and_digits_for_look_alikes() -> None:
    assert normalise.id_number("11010519491231002x") == "11010519491231002X"
    assert normalise.id_number("11O1O519491231002X") == "11010519491231002X"
    assert normalise.id_number("1101051949123100") is None
    assert normalise.id_number("11010519491231002Y") is None


def test_sex_serials_numbers_and_addresses() -> None:
    assert normalise.sex("男") == "male" and normalise.sex("女") == "female" and normalise.sex("?") is None
    assert normalise.serial("No. p４４００１２３４５") == "NOP440012345"
    assert normalise.number("100.00") == "100" and normalise.number("1e2") == "100"
    assert normalise.number("inf") is None and normalise.number("abc") is None
    assert normalise.address("上海市 浦东新区，张江路1号（2楼）。") == "上海市浦东新区张江路1号2楼"
