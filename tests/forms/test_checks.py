"""Check digits and formats of the catalog (GB 11643, GB 32100, GB/T 2260, mobile, names)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms import checks
from forms.checks import (
    PROVINCE_PREFIXES,
    USCC_ALPHABET,
    check_division_code,
    check_email,
    check_mobile,
    check_person_name,
    check_resident_id,
    check_uscc,
    china_today,
)

# Reference implementations written from the standards' text (domain.md), kept apart from
# the code under test so a shared mistake cannot pass unnoticed.
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def reference_id(body: str) -> str:
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def reference_uscc(body: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


provinces = st.sampled_from(sorted(PROVINCE_PREFIXES))
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31))
id_bodies = st.builds(
    lambda province, rest, born, seq: f"{province}{rest}{born:%Y%m%d}{seq}",
    provinces,
    st.from_regex(r"[0-9]{4}", fullmatch=True),
    birth_dates,
    st.from_regex(r"[0-9]{3}", fullmatch=True),
)
uscc_bodies = st.text(alphabet=USCC_ALPHABET, min_size=2, max_size=2).flatmap(
    lambda head: st.builds(
        lambda digits, tail: head + digits + tail,
        st.from_regex(r"[0-9]{6}", fullmatch=True),
        st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
    )
)


# The machine is shared: time limits per example would fail on load, not on a wrong check digit.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_published_examples_pass() -> None:
    assert check_resident_id("11010519491231002X") is None
    assert check_uscc("91350100M000100Y43") is None


@relaxed
@given(id_bodies)
def test_every_well_formed_resident_id_passes(body: str) -> None:
    assert check_resident_id(reference_id(body), today=date(2025, 1, 1)) is None


@relaxed
@given(id_bodies, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_a_resident_id_with_one_character_changed_is_always_rejected(
    body: str, position: int, new: str
) -> None:
    valid = reference_id(body)
    if valid[position] == new:
        new = "0" if new != "0" else "1"
    corrupted = valid[:position] + new + valid[position + 1 :]
    assert check_resident_id(corrupted, today=date(2025, 1, 1)) is not None


@relaxed
@given(uscc_bodies)
def test_every_well_formed_credit_code_passes(body: str) -> None:
    assert check_uscc(reference_uscc(body)) is None


@relaxed
@given(uscc_bodies, st.integers(min_value=0, max_value=17), st.sampled_from(USCC_ALPHABET + "IOZSVa-"))
def test_a_credit_code_with_one_character_changed_is_always_rejected(
    body: str, position: int, new: str
) -> None:
    valid = reference_uscc(body)
    if valid[position] == new:
        new = "1" if new != "1" else "2"
    corrupted = valid[:position] + new + valid[position + 1 :]
    assert check_uscc(corrupted) is not None


def id_rule(value: str) -> str | None:
    failure = check_resident_id(value, today=date(2025, 1, 1))
    return failure.rule if failure else None


def test_resident_id_rules_name_what_is_wrong() -> None:
    assert id_rule("11010519491231002") == "format"
    assert id_rule("11010519491231002x") == "format"
    assert id_rule(reference_id("99010519491231002")) == "division"
    assert id_rule(reference_id("11010519490230002")) == "birth_date"  # 30 February
    assert id_rule(reference_id("11010518991231002")) == "birth_date"  # before 1900
    assert id_rule(reference_id("11010520300101002")) == "birth_date"  # in the future
    assert id_rule("110105194912310021") == "check_digit"


def test_other_formats() -> None:
    assert check_mobile("13800138000") is None
    assert check_mobile("12800138000") is not None
    assert check_mobile("1380013800") is not None
    assert check_division_code("110105") is None
    assert check_division_code("990105") is not None
    assert check_division_code("11010") is not None
    assert check_person_name("王小明") is None
    assert check_person_name("阿卜杜拉·艾力") is None
    assert check_person_name("Anna Smith") is None
    assert check_person_name("王") is not None
    assert check_person_name("王小明1") is not None
    assert check_person_name("<script>") is not None
    assert check_email("li@example.cn") is None
    assert check_email("li@example") is not None
    assert check_email("not an address") is not None


def test_china_today_is_the_date_in_china_not_on_a_utc_server() -> None:
    assert china_today(datetime(2026, 11, 23, 15, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert china_today(datetime(2026, 11, 23, 16, 0, tzinfo=UTC)) == date(2026, 11, 24)


def test_a_birth_date_inside_an_id_is_judged_against_chinas_date(monkeypatch: pytest.MonkeyPatch) -> None:
    # A child born this morning in China, while a UTC server still says yesterday: the ID is
    # plausible; a birth date after China's today is not. (A date no server has reached shows
    # the check asks ``china_today`` and not the server's calendar.)
    monkeypatch.setattr(checks, "china_today", lambda now=None: date(2999, 1, 2))
    assert check_resident_id(reference_id("11010529990102001")) is None
    late = check_resident_id(reference_id("11010529990103001"))
    assert late is not None and late.rule == "birth_date"
