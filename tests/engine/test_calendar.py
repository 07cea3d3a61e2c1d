"""The working-day clock: weekends, announced holidays, 调休, overrides, fractions, waits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInput
from engine.storage.settings import Settings
from engine.time.calendar import OVERRIDES_FILE, DayKind, WorkCalendar, parse_overrides

CST = timezone(timedelta(hours=8))


def cst(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CST)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.load()


def test_national_day_2024_is_skipped_and_its_adjusted_workdays_count(cal: WorkCalendar) -> None:
    # Monday 30 Sep 2024, 10:00: 1 working day runs past 1-7 October to Tuesday 8 October.
    assert cal.add_working_days(cst(2024, 9, 30, 10), 1) == cst(2024, 10, 8, 10)
    # Sunday 29 September and Saturday 12 October were worked (调休).
    assert cal.is_working_day(date(2024, 9, 29)) and cal.is_working_day(date(2024, 10, 12))
    assert not any(cal.is_working_day(date(2024, 10, d)) for d in range(1, 8))
    assert cal.add_working_days(cst(2024, 9, 28, 10), 1) == cst(2024, 9, 29, 17)
    assert cal.add_working_days(cst(2024, 10, 11, 10), 1) == cst(2024, 10, 12, 10)
    # Three days from 30 Sep: 30 Sep (7 h), 8 Oct, 9 Oct, and 1 h of 10 Oct.
    assert cal.add_working_days(cst(2024, 9, 30, 10), 3) == cst(2024, 10, 10, 10)
    assert cal.describe(date(2024, 10, 1)).name == "国庆节"
    assert cal.describe(date(2024, 10, 12)).name == "国庆节调休上班"


def test_spring_festival_2025_and_its_adjusted_workdays(cal: WorkCalendar) -> None:
    # 28 Jan - 4 Feb 2025 off; Sunday 26 Jan and Saturday 8 Feb worked.
    assert cal.is_working_day(date(2025, 1, 26)) and cal.is_working_day(date(2025, 2, 8))
    assert not any(cal.is_working_day(date(2025, 1, 28) + timedelta(days=i)) for i in range(8))
    assert cal.add_working_days(cst(2025, 1, 27, 10), 1) == cst(2025, 2, 5, 10)
    # Friday 7 Feb 16:00 + 1 day: 1 h Friday, 7 h on the worked Saturday.
    assert cal.add_working_days(cst(2025, 2, 7, 16), 1) == cst(2025, 2, 8, 16)


def test_weekends_are_skipped_and_fractions_are_hours_of_an_eight_hour_day(cal: WorkCalendar) -> None:
    friday = cst(2025, 3, 7, 15)
    assert cal.add_working_days(friday, 0.5) == cst(2025, 3, 10, 11)  # 2 h Friday + 2 h Monday
    assert cal.add_working_days(friday, 0.25) == cst(2025, 3, 7, 17)  # exactly the end of Friday
    assert cal.add_working_days(cst(2025, 3, 3, 9), 1) == cst(2025, 3, 3, 17)
    assert cal.add_working_days(cst(2025, 3, 3, 9), 2) == cst(2025, 3, 4, 17)
    assert cal.add_working_days(cst(2025, 3, 3, 7), 0.125) == cst(2025, 3, 3, 10)  # clock starts at 09:00
    assert cal.add_working_days(cst(2025, 3, 8, 12), 1) == cst(2025, 3, 10, 17)  # Saturday -> Monday
    assert cal.due_for(1.5, cst(2025, 3, 3, 13)) == cst(2025, 3, 4, 17)  # 4 h + 8 h


def test_a_limit_of_zero_days_ends_at_the_end_of_the_working_day(cal: WorkCalendar) -> None:
    assert cal.add_working_days(cst(2025, 3, 3, 10), 0) == cst(2025, 3, 3, 17)
    assert cal.add_working_days(cst(2025, 3, 3, 18), 0) == cst(2025, 3, 4, 17)  # after hours: next day
    assert cal.add_working_days(cst(2025, 3, 7, 17), 0) == cst(2025, 3, 10, 17)  # Friday 17:00: Monday


def test_working_time_between_counts_only_office_hours_of_working_days(cal: WorkCalendar) -> None:
    # Friday 12:00 to the Tuesday after National Day 2024, 10:00: 5 h + 8 h (Sun 29th worked)
    # + 8 h (Mon 30th) + 1 h = 22 h; the week of holidays and Saturday count nothing.
    assert cal.working_time_between(cst(2024, 9, 27, 12), cst(2024, 10, 8, 10)) == timedelta(hours=22)
    assert cal.working_time_between(cst(2025, 3, 8, 9), cst(2025, 3, 9, 20)) == timedelta(0)
    assert cal.working_time_between(cst(2025, 3, 4), cst(2025, 3, 3)) == timedelta(0)
    assert cal.working_days_between(cst(2025, 3, 3, 9), cst(2025, 3, 5, 13)) == 2.5


def test_the_overrides_file_extends_a_year_the_package_does_not_know(tmp_path: Path) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text(
        "2030-01-01: {kind: holiday, name: 元旦}\n"
        "2030-01-02: holiday\n"
        "2030-01-05: {kind: workday, name: 元旦调休上班}\n",
        encoding="utf-8",
    )
    cal = WorkCalendar.load(path=path)
    assert not cal.announced(2031) and cal.announced(2030)
    # Monday 31 Dec 2029 10:00, 2 days: 7 h Monday, 1-2 Jan off, 8 h Thursday 3rd, 1 h Friday 4th.
    assert cal.add_working_days(cst(2029, 12, 31, 10), 2) == cst(2030, 1, 4, 10)
    # Friday 4th 10:00, 1 day: 7 h Friday and 1 h of the worked Saturday 5th.
    assert cal.add_working_days(cst(2030, 1, 4, 10), 1) == cst(2030, 1, 5, 10)
    assert cal.describe(date(2030, 1, 5)).source == "override"
    assert cal.describe(date(2031, 3, 3)).source == "weekday-rule"


def test_an_override_wins_over_the_announced_calendar() -> None:
    local = parse_overrides("2025-03-05: {kind: holiday, name: 地方假日}\n")
    cal = WorkCalendar(local)
    assert not cal.is_working_day(date(2025, 3, 5))
    assert cal.add_working_days(cst(2025, 3, 4, 10), 1) == cst(2025, 3, 6, 10)
    assert local[date(2025, 3, 5)].kind is DayKind.HOLIDAY


def test_the_shipped_overrides_file_loads_and_covers_2027(cal: WorkCalendar) -> None:
    assert OVERRIDES_FILE.exists()
    assert cal.announced(2027)
    assert not cal.is_working_day(date(2027, 2, 8))  # 正月初三, a Monday
    assert not cal.is_working_day(date(2027, 10, 1))
    assert cal.is_working_day(date(2027, 3, 1))


def test_a_bad_overrides_file_reports_every_problem_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_overrides(
            "2030-13-01: holiday\n2030-01-02: {kind: vacation}\n2030-01-03: {kind: holiday, when: x}\n"
        )
    assert [p.where for p in caught.value.problems] == ["2030-13-01", "2030-01-02", "2030-01-03"]


def test_naive_datetimes_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working_days(datetime(2025, 3, 3, 10), 1)


moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(start=moments, days=st.floats(min_value=0.01, max_value=40, allow_nan=False))
def test_working_time_until_the_due_time_is_exactly_the_limit(start: datetime, days: float) -> None:
    cal = WorkCalendar.load()
    due = cal.add_working_days(start, days)
    assert abs(cal.working_time_between(start, due).total_seconds() - days * 8 * 3600) < 1e-3
    assert due > start
    # Monotonic: a longer limit never ends earlier.
    assert cal.add_working_days(start, days + 0.01) > due


@settings(max_examples=200, deadline=None)
@given(a=moments, b=moments, c=moments)
def test_working_time_adds_up_over_consecutive_intervals(a: datetime, b: datetime, c: datetime) -> None:
    cal = WorkCalendar.load()
    a, b, c = sorted((a, b, c))
    total = cal.working_time_between(a, b) + cal.working_time_between(b, c)
    assert abs((total - cal.working_time_between(a, c)).total_seconds()) < 1e-6


def test_the_engine_reads_the_overrides_file_its_settings_name(tmp_path: Path) -> None:
    """An admin's own file (ONETHING_CALENDAR_OVERRIDES) replaces the shipped one."""
    path = tmp_path / "local-holidays.yaml"
    path.write_text("2025-03-05: {kind: holiday, name: 地方假日}\n", encoding="utf-8")
    configured = WorkCalendar.load(Settings(calendar_overrides=path, data_dir=tmp_path))
    assert configured.describe(date(2025, 3, 5)).source == "override"
    assert WorkCalendar.load(Settings(data_dir=tmp_path)).describe(date(2025, 3, 5)).source != "override"
