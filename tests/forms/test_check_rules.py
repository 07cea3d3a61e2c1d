"""The rules of forms.checks one by one: which rule a bad value breaks, and where each rule's edge lies.

Mutation testing found rule names asserted only as "some failure" and the check-digit
generators' guard against a bad body never exercised; these tests pin both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from forms.checks import (
    Format,
    check_division_code,
    check_email,
    check_format,
    check_mobile,
    check_person_name,
    check_resident_id,
    check_uscc,
    china_today,
    resident_id_check_char,
    uscc_check_char,
)

TODAY = date(2025, 6, 1)
VALID_ID = "11010519491231002X"
VALID_USCC = "91350100M000100Y43"


def rule_of(failure: object) -> str | None:
    """The rule a check's result names (``None`` when the value passed)."""
    return getattr(failure, "rule", None) if failure is not None else None


def with_check(body: str) -> str:
    """A resident ID with its correct check character (from the generator under test's twin)."""
    return body + resident_id_check_char(body)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("9135010OM000100Y43", "format"),  # O is not in the GB 32100 alphabet
        ("91350100m000100Y43", "format"),  # lower case
        ("91350100M000100Y4", "format"),  # 17 characters
        ("91350100M000100Y44", "check_digit"),
        (VALID_USCC, None),
    ],
)
def test_a_credit_code_names_the_rule_it_breaks(value: str, rule: str | None) -> None:
    assert rule_of(check_uscc(value)) == rule


@pytest.mark.parametrize(
    ("check", "value", "rule"),
    [
        (check_mobile, "12800138000", "format"),
        (check_mobile, "13800138000", None),
        (check_division_code, "11010", "format"),
        (check_division_code, "990105", "division"),
        (check_division_code, "110105", None),
        (check_person_name, "王", "format"),
        (check_person_name, "王小明", None),
        (check_email, "li@example", "format"),
        (check_email, "li@example.cn", None),
    ],
)
def test_the_other_formats_name_the_rule_they_break(check: object, value: str, rule: str | None) -> None:
    assert callable(check)
    assert rule_of(check(value)) == rule


def test_every_failure_says_what_is_wrong_in_chinese_and_english() -> None:
    failures = [
        check_resident_id("1", today=TODAY),
        check_resident_id(with_check("99010519491231002"), today=TODAY),
        check_resident_id(with_check("11010519490230002"), today=TODAY),
        check_resident_id(with_check("11010518991231002"), today=TODAY),
        check_resident_id("110105194912310021", today=TODAY),
        check_uscc("1"),
        check_uscc("91350100M000100Y44"),
        check_mobile("1"),
        check_division_code("1"),
        check_division_code("990105"),
        check_person_name("1"),
        check_email("1"),
    ]
    for failure in failures:
        assert failure is not None
        assert failure.message and failure.message_en
        assert failure.message != failure.message_en  # one Chinese, one English
        assert any("\u4e00" <= ch <= "\u9fff" for ch in failure.message)
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in failure.message_en)


def test_a_birth_year_of_1900_is_the_first_plausible_one() -> None:
    assert check_resident_id(with_check("11010519000101002"), today=TODAY) is None
    assert rule_of(check_resident_id(with_check("11010518991231002"), today=TODAY)) == "birth_date"


def test_a_birth_date_of_today_is_plausible_and_tomorrow_is_not() -> None:
    assert check_resident_id(with_check("11010520250601002"), today=TODAY) is None
    assert rule_of(check_resident_id(with_check("11010520250602002"), today=TODAY)) == "birth_date"


def test_the_birth_day_is_read_from_both_of_its_digits() -> None:
    assert check_resident_id(with_check("11010519800520002"), today=TODAY) is None  # day 20, not 0
    # The 11th of this month, ten days ahead: day 1 would be today and pass.
    assert rule_of(check_resident_id(with_check("11010520250611002"), today=TODAY)) == "birth_date"


def test_without_a_today_the_birth_date_is_judged_against_chinas_date() -> None:
    tomorrow_in_china = china_today().toordinal() + 1
    born = date.fromordinal(tomorrow_in_china)
    body = f"110105{born:%Y%m%d}002"
    assert rule_of(check_resident_id(with_check(body))) == "birth_date"
    assert check_resident_id(with_check(f"110105{china_today():%Y%m%d}002")) is None


def test_the_check_digit_is_the_last_rule_a_resident_id_meets() -> None:
    # A wrong check digit on an otherwise valid number is "check_digit", and only that.
    assert rule_of(check_resident_id(VALID_ID[:17] + "1", today=TODAY)) == "check_digit"
    assert check_resident_id(VALID_ID, today=TODAY) is None


@pytest.mark.parametrize(
    "body",
    [
        "1101051949123100",  # 16 digits
        "110105194912310020",  # 18 digits
        "1101051949123100X",  # a letter
        "11010519491231００2",  # fullwidth digits: str.isdigit says yes, the standard says no
        "",
    ],
)
def test_the_resident_id_check_character_refuses_a_bad_body(body: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        resident_id_check_char(body)


@pytest.mark.parametrize(
    "body",
    [
        "91350100M000100Y",  # 16 characters
        "91350100M000100Y43",  # 18 characters
        "91350100M000100I4",  # I is not in the alphabet
        "91350100m000100Y4",  # lower case
        "",
    ],
)
def test_the_credit_code_check_character_refuses_a_bad_body(body: str) -> None:
    with pytest.raises(ValueError, match="17 characters"):
        uscc_check_char(body)


def test_the_check_characters_of_the_published_examples() -> None:
    assert resident_id_check_char(VALID_ID[:17]) == "X"
    assert uscc_check_char(VALID_USCC[:17]) == "3"
    assert uscc_check_char("0" * 17) == "0"  # sum 0: (31 - 0) % 31, not 31


@pytest.mark.parametrize(
    ("fmt", "good", "bad", "rule"),
    [
        (Format.RESIDENT_ID, VALID_ID, "11010519491231002", "format"),
        (Format.USCC, VALID_USCC, "91350100M000100Y44", "check_digit"),
        (Format.MOBILE, "13800138000", "1380013800", "format"),
        (Format.DIVISION_CODE, "110105", "990105", "division"),
        (Format.PERSON_NAME, "Anna Smith", "A", "format"),
        (Format.EMAIL, "li@example.cn", "li@", "format"),
    ],
)
def test_check_format_runs_the_check_of_each_format(fmt: Format, good: str, bad: str, rule: str) -> None:
    assert check_format(fmt, good) is None
    assert rule_of(check_format(fmt, bad)) == rule


def test_china_today_without_a_moment_is_the_current_date_in_china() -> None:
    before = china_today(datetime.now(UTC))
    today = china_today()
    assert today in (before, date.fromordinal(before.toordinal() + 1))
