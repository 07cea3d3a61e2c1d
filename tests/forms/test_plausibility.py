"""Cross-field plausibility rules of the catalog: each rule both ways, on a given day in China."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from forms.catalog import CATALOG_DIR, Catalog, load_catalog
from forms.checks import china_today, resident_id_check_char
from forms.errors import CatalogError
from forms.plausibility import age_on, id_sex, next_day_of_year, plausibility_problems

TODAY = date(2026, 12, 5)
NEWBORN = (
    "child_name",
    "newborn_gender",
    "newborn_birth_date",
    "mother_name",
    "mother_id",
    "father_name",
    "father_id",
)


def resident_id(born: date, order: str = "002", region: str = "330106") -> str:
    """A valid GB 11643 number: the order code's last digit is odd for a man, even for a woman."""
    body = f"{region}{born:%Y%m%d}{order}"
    return body + resident_id_check_char(body)


MOTHER = resident_id(date(1992, 5, 5), "402")  # 2: female
FATHER = resident_id(date(1990, 8, 8), "251")  # 1: male


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def newborn(**changes: str) -> dict[str, str]:
    data = {
        "child_name": "陈予安",
        "newborn_gender": "female",
        "newborn_birth_date": "2026-11-20",
        "mother_name": "林晓",
        "mother_id": MOTHER,
        "father_name": "陈浩",
        "father_id": FATHER,
    }
    data.update(changes)
    return data


def rules_of(problems: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(p.field, p.rule) for p in problems]


def test_a_plausible_newborn_application_has_no_problem(catalog: Catalog) -> None:
    assert plausibility_problems(catalog, NEWBORN, newborn(), TODAY) == []


def test_a_birth_date_in_the_future_is_refused_and_today_is_not(catalog: Catalog) -> None:
    future = plausibility_problems(catalog, NEWBORN, newborn(newborn_birth_date="2026-12-06"), TODAY)
    assert rules_of(future) == [("newborn_birth_date", "plausibility.not_future")]
    assert "不能晚于今天(2026-12-05)" in future[0].message
    assert "cannot be later than today" in future[0].message_en
    assert plausibility_problems(catalog, NEWBORN, newborn(newborn_birth_date="2026-12-05"), TODAY) == []


def test_today_is_the_date_in_china_not_on_the_server(catalog: Catalog) -> None:
    # 17:00 UTC on 5 December is 01:00 on 6 December in China: a child born that night is not "future".
    today = china_today(datetime(2026, 12, 5, 17, 0, tzinfo=UTC))
    assert today == date(2026, 12, 6)
    assert plausibility_problems(catalog, NEWBORN, newborn(newborn_birth_date="2026-12-06"), today) == []


def test_the_same_id_for_both_parents_is_refused(catalog: Catalog) -> None:
    same = plausibility_problems(catalog, NEWBORN, newborn(father_id=MOTHER), TODAY)
    assert ("father_id", "plausibility.distinct") in rules_of(same)
    distinct = next(p for p in same if p.rule == "plausibility.distinct")
    assert distinct.fields == ("father_id", "mother_id")
    assert "应为不同的人" in distinct.message and "different people" in distinct.message_en
    assert distinct.as_dict()["fields"] == ["father_id", "mother_id"]


def test_a_male_coded_id_for_the_mother_is_refused(catalog: Catalog) -> None:
    male = resident_id(date(1992, 5, 5), "403")
    problems = plausibility_problems(catalog, NEWBORN, newborn(mother_id=male), TODAY)
    assert rules_of(problems) == [("mother_id", "plausibility.id_sex")]
    assert "男性" in problems[0].message and "女性" in problems[0].message
    assert "male" in problems[0].message_en


def test_a_female_coded_id_for_the_father_is_refused(catalog: Catalog) -> None:
    female = resident_id(date(1990, 8, 8), "254")
    problems = plausibility_problems(catalog, NEWBORN, newborn(father_id=female), TODAY)
    assert rules_of(problems) == [("father_id", "plausibility.id_sex")]


def test_all_problems_come_at_once(catalog: Catalog) -> None:
    male = resident_id(date(1992, 5, 5), "403")
    problems = plausibility_problems(
        catalog, NEWBORN, newborn(mother_id=male, father_id=male, newborn_birth_date="2027-01-01"), TODAY
    )
    assert set(rules_of(problems)) == {
        ("newborn_birth_date", "plausibility.not_future"),
        ("mother_id", "plausibility.id_sex"),
        ("father_id", "plausibility.distinct"),
    }


def test_the_sex_digit_follows_gb_11643() -> None:
    assert id_sex(resident_id(date(2000, 1, 1), "001")) == "male"
    assert id_sex(resident_id(date(2000, 1, 1), "010")) == "female"


GUARDIAN = ("guardian_id", "guardian_relation", "child_id", "school_stage")


@pytest.mark.parametrize(
    ("relation", "order", "problem"),
    [
        ("mother", "401", True),
        ("mother", "402", False),
        ("father", "402", True),
        ("father", "401", False),
        ("other_guardian", "401", False),
        ("other_guardian", "402", False),
    ],
)
def test_a_guardian_id_fits_the_relation_chosen(
    catalog: Catalog, relation: str, order: str, problem: bool
) -> None:
    data = {
        "guardian_id": resident_id(date(1987, 2, 11), order, "310104"),
        "guardian_relation": relation,
        "child_id": resident_id(date(2020, 6, 5), "003", "310104"),
        "school_stage": "primary",
    }
    found = plausibility_problems(catalog, GUARDIAN, data, TODAY)
    assert rules_of(found) == ([("guardian_id", "plausibility.id_sex")] if problem else [])
    if problem:
        assert "与儿童关系" in found[0].message


def test_a_guardian_is_not_the_child(catalog: Catalog) -> None:
    child = resident_id(date(2020, 6, 5), "003", "310104")
    data = {"guardian_id": child, "guardian_relation": "other_guardian", "child_id": child}
    found = plausibility_problems(catalog, GUARDIAN, data | {"school_stage": "primary"}, TODAY)
    assert ("guardian_id", "plausibility.distinct") in rules_of(found)


LEGAL_REP = ("company_name", "legal_rep_id")


@pytest.mark.parametrize(
    ("born", "problem"),
    [
        (date(2008, 12, 5), False),  # 18 today
        (date(2008, 12, 6), True),  # 18 tomorrow
        (date(1949, 12, 31), False),
    ],
)
def test_a_legal_representative_is_at_least_18(catalog: Catalog, born: date, problem: bool) -> None:
    data = {"company_name": "上海澄川信息科技有限公司", "legal_rep_id": resident_id(born, "041", "310115")}
    found = plausibility_problems(catalog, LEGAL_REP, data, TODAY)
    assert rules_of(found) == ([("legal_rep_id", "plausibility.age")] if problem else [])
    if problem:
        assert "目前为17周岁" in found[0].message and "应年满18周岁" in found[0].message
        assert "at least 18" in found[0].message_en


@pytest.mark.parametrize(
    ("stage", "born", "problem"),
    [
        ("primary", date(2021, 8, 31), False),  # six on 31 August 2027, the next school year
        ("primary", date(2021, 9, 1), True),  # six a day too late
        ("primary", date(2015, 9, 1), False),  # 11: late, still plausible
        ("primary", date(1987, 2, 11), True),  # a parent's number in the child's field
        ("junior_secondary", date(2015, 9, 1), False),
        ("junior_secondary", date(2021, 8, 31), True),  # the primary rule does not speak here
    ],
)
def test_a_child_entering_school_is_of_school_age_by_31_august(
    catalog: Catalog, stage: str, born: date, problem: bool
) -> None:
    data = {
        "child_id": resident_id(born, "003", "310104"),
        "school_stage": stage,
        "guardian_id": resident_id(date(1987, 2, 11), "082", "310104"),
        "guardian_relation": "mother",
    }
    found = plausibility_problems(catalog, GUARDIAN, data, TODAY)
    assert rules_of(found) == ([("child_id", "plausibility.age")] if problem else [])
    if problem:
        assert "截至2027年8月31日" in found[0].message and "入学阶段为" in found[0].message


def test_school_age_is_counted_on_this_years_31_august_until_it_has_passed(catalog: Catalog) -> None:
    assert next_day_of_year("08-31", date(2027, 5, 1)) == date(2027, 8, 31)
    assert next_day_of_year("08-31", date(2027, 8, 31)) == date(2027, 8, 31)
    assert next_day_of_year("08-31", date(2027, 9, 1)) == date(2028, 8, 31)
    assert next_day_of_year("02-29", date(2027, 3, 1)) == date(2028, 2, 29)
    assert next_day_of_year("02-29", date(2028, 3, 1)) == date(2029, 2, 28)


def test_age_counts_full_years() -> None:
    assert age_on(date(2000, 3, 1), date(2018, 2, 28)) == 17
    assert age_on(date(2000, 3, 1), date(2018, 3, 1)) == 18


CARD = ("card_holder_id", "card_holder_category", "guardian_id")


@pytest.mark.parametrize(
    ("category", "born", "problem"),
    [
        ("minor", date(2018, 6, 5), False),
        ("minor", date(1993, 2, 13), True),
        ("adult", date(1993, 2, 13), False),
        ("adult", date(2018, 6, 5), True),
    ],
)
def test_a_card_holders_category_fits_the_age(
    catalog: Catalog, category: str, born: date, problem: bool
) -> None:
    data = {"card_holder_id": resident_id(born, "252", "610103"), "card_holder_category": category}
    found = plausibility_problems(catalog, CARD, data, TODAY)
    assert rules_of(found) == ([("card_holder_id", "plausibility.age")] if problem else [])


BIRTH = ("newborn_birth_date", "child_id")


def test_a_birth_date_agrees_with_the_birth_date_in_the_id(catalog: Catalog) -> None:
    child = resident_id(date(2025, 2, 20), "002")
    same = {"newborn_birth_date": "2025-02-20", "child_id": child}
    assert plausibility_problems(catalog, BIRTH, same, TODAY) == []
    other = plausibility_problems(catalog, BIRTH, same | {"newborn_birth_date": "2025-02-21"}, TODAY)
    assert rules_of(other) == [("newborn_birth_date", "plausibility.id_birth_date")]
    assert "2025-02-20" in other[0].message
    assert other[0].fields == ("newborn_birth_date", "child_id")


def test_a_rule_is_silent_when_a_field_is_missing_invalid_or_not_on_the_form(catalog: Catalog) -> None:
    bad_check_digit = MOTHER[:17] + ("0" if MOTHER[17] != "0" else "1")
    no_mother = plausibility_problems(catalog, NEWBORN, newborn(father_id=MOTHER, mother_id=""), TODAY)
    assert "plausibility.distinct" not in [p.rule for p in no_mother]
    both_bad = newborn(father_id=bad_check_digit, mother_id=bad_check_digit)
    assert plausibility_problems(catalog, NEWBORN, both_bad, TODAY) == []
    future = newborn(newborn_birth_date="2030-01-01")
    without_date = tuple(f for f in NEWBORN if f != "newborn_birth_date")
    assert plausibility_problems(catalog, without_date, future, TODAY) == []
    assert plausibility_problems(catalog, NEWBORN, newborn(newborn_birth_date="2026-02-30"), TODAY) == []
    assert plausibility_problems(catalog, NEWBORN, ["not", "a", "mapping"], TODAY) == []  # type: ignore[arg-type]


def test_bank_is_a_choice_of_banks_with_other(catalog: Catalog) -> None:
    bank = catalog.elements["bank_name"]
    assert bank.enum_label("icbc") == "中国工商银行" and bank.enum_label("other") == "其他银行"
    for name in ("中国农业银行", "中国银行", "中国建设银行", "交通银行", "中国邮政储蓄银行", "招商银行"):
        assert name in [bank.enum_label(v) for v in bank.enum]


def _catalog_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, folder)
    (folder / "zz_test.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("rules:\n  r: {kind: id_sex, fields: [mother_name], sex: female}\n", "is not a resident ID"),
        ("rules:\n  r: {kind: not_future, fields: [mother_id]}\n", "is not a date"),
        ("rules:\n  r: {kind: age, fields: [nowhere], min_years: 1}\n", "is not a known element"),
        ("rules:\n  r: {kind: age, fields: [mother_id]}\n", "min_years or max_years"),
        ("rules:\n  r: {kind: distinct, fields: [mother_id]}\n", "at least two fields"),
        ("rules:\n  r: {kind: id_sex, fields: [mother_id]}\n", "either sex or sex_from"),
        ("rules:\n  r: {kind: age, fields: [mother_id], min_years: 1, by: '13-01'}\n", "MM-DD"),
        (
            "rules:\n  r: {kind: id_sex, fields: [guardian_id], sex_from: guardian_relation, "
            "sexes: {aunt: female}}\n",
            "has no value 'aunt'",
        ),
        ("rules:\n  mother_female: {kind: not_future, fields: [newborn_birth_date]}\n", "defined twice"),
        ("identities:\n  x: {fields: [nowhere], zh: 无, en: none}\n", "is not a known element"),
    ],
)
def test_the_catalog_refuses_a_rule_that_cannot_hold(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(_catalog_with(tmp_path, text))
    assert said in str(caught.value)


def test_every_shipped_rule_and_identity_names_known_elements(catalog: Catalog) -> None:
    assert {
        "mother_female",
        "father_male",
        "parents_distinct",
        "newborn_not_future",
        "legal_rep_adult",
    } <= set(catalog.rules)
    assert {"company_name", "newborn"} <= set(catalog.identities)
