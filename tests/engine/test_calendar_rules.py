"""The working-day clock's rules at their edges: what mutation testing found no test exercising.

Each test names one rule of engine/time/calendar.py: the Monday-Friday fallback (with a weekend
day in it), names carried from the overrides file to ``describe``, the time zone a caller
passes, the local date of a moment, and the overrides file's checks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from engine.errors import InvalidInput
from engine.time.calendar import (
    DayKind,
    DayOverride,
    WorkCalendar,
    default_calendar,
    load_overrides,
    parse_overrides,
)

CST = timezone(timedelta(hours=8))


def cst(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CST)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


# --- the Monday-Friday fallback -------------------------------------------------------------


def test_a_year_nobody_announced_works_monday_to_friday_and_rests_at_the_weekend() -> None:
    cal = WorkCalendar()
    # 2031: neither the package nor the (empty) overrides know it. 3-7 March is Monday-Friday.
    assert [cal.is_working_day(date(2031, 3, d)) for d in range(3, 10)] == [True] * 5 + [False] * 2
    saturday, sunday = cal.describe(date(2031, 3, 8)), cal.describe(date(2031, 3, 9))
    assert (saturday.day, sunday.day) == (date(2031, 3, 8), date(2031, 3, 9))
    assert (saturday.working, saturday.source, saturday.name) == (False, "weekday-rule", "")
    assert (sunday.working, sunday.source) == (False, "weekday-rule")
    friday = cal.describe(date(2031, 3, 7))
    assert (friday.working, friday.source) == (True, "weekday-rule")
    # Friday 15:00 + 0.5 day: 2 h Friday, the weekend skipped, 2 h Monday.
    assert cal.add_working_days(cst(2031, 3, 7, 15), 0.5) == cst(2031, 3, 10, 11)
    assert not cal.announced(2031)


def test_before_the_tables_start_days_are_judged_one_by_one() -> None:
    cal = WorkCalendar()
    # 1999 lies before the tables (2000) and before the package (2004): the weekday rule.
    assert cal.is_working_day(date(1999, 1, 1))  # a Friday
    assert not cal.is_working_day(date(1999, 1, 2))  # a Saturday
    assert not cal.is_working_day(date(1999, 1, 3))
    assert cal.is_working_day(date(1999, 12, 31))
    with pytest.raises(ValueError, match="not supported"):
        cal.count_working_days(date(1999, 12, 1), date(2000, 1, 10))


def test_an_override_before_the_tables_still_counts() -> None:
    cal = WorkCalendar([DayOverride(date(1999, 1, 2), DayKind.WORKDAY, "补班")])
    assert cal.is_working_day(date(1999, 1, 2))


def test_announced_years_follow_the_package_including_its_adjusted_days() -> None:
    cal = WorkCalendar()
    assert cal.announced(2004) and cal.announced(2026)
    assert not cal.announced(2003)
    # 2024-10-14 is an ordinary Monday, 2024-10-12 a worked Saturday, 2024-10-13 a plain Sunday.
    assert cal.is_working_day(date(2024, 10, 14))
    assert cal.is_working_day(date(2024, 10, 12))
    assert not cal.is_working_day(date(2024, 10, 13))
    plain = cal.describe(date(2024, 10, 14))
    assert plain.day == date(2024, 10, 14)
    assert (plain.working, plain.name, plain.source) == (True, "", "announced")
    sunday = cal.describe(date(2024, 10, 13))
    assert (sunday.working, sunday.name, sunday.source) == (False, "", "announced")
    holiday = cal.describe(date(2024, 10, 1))
    assert (holiday.working, holiday.name) == (False, "国庆节")


def test_counting_working_days_over_a_half_open_range() -> None:
    cal = WorkCalendar()
    monday, next_monday = date(2025, 3, 3), date(2025, 3, 10)
    assert cal.count_working_days(monday, next_monday) == 5
    assert cal.count_working_days(monday, monday) == 0
    assert cal.count_working_days(next_monday, monday) == 0
    assert cal.count_working_days(date(2000, 1, 1), date(2000, 1, 8)) == 5  # the tables' first week
    # Years ahead: the tables grow on demand (2031-2035 by the weekday rule, 261 + 261 + 262 + ...).
    assert cal.count_working_days(date(2031, 1, 1), date(2032, 1, 1)) == 261
    assert cal.count_working_days(date(2028, 1, 3), date(2028, 1, 10)) == 5


def test_a_long_limit_crosses_into_years_the_tables_have_not_reached() -> None:
    cal = WorkCalendar()
    # 400 working days from a Monday in 2031 (weekday rule): 80 whole weeks later, Friday 17:00.
    assert cal.add_working_days(cst(2031, 3, 3, 9), 400) == cst(2032, 9, 10, 17)
    assert cal.working_days_between(cst(2031, 3, 3, 9), cst(2032, 9, 10, 17)) == 400


# --- names from the overrides file ----------------------------------------------------------


def test_override_names_reach_describe() -> None:
    overrides = parse_overrides(
        "2031-01-01: {kind: holiday, name: 元旦}\n"
        "2031-01-04: {kind: workday, name: 元旦调休上班}\n"
        "2031-01-02: holiday\n"
        "2031-01-03: {kind: holiday}\n"
    )
    assert overrides[date(2031, 1, 1)] == DayOverride(date(2031, 1, 1), DayKind.HOLIDAY, "元旦")
    assert overrides[date(2031, 1, 4)] == DayOverride(date(2031, 1, 4), DayKind.WORKDAY, "元旦调休上班")
    assert overrides[date(2031, 1, 2)] == DayOverride(date(2031, 1, 2), DayKind.HOLIDAY, "")
    cal = WorkCalendar(overrides)
    new_year, worked = cal.describe(date(2031, 1, 1)), cal.describe(date(2031, 1, 4))
    assert (new_year.day, worked.day) == (date(2031, 1, 1), date(2031, 1, 4))
    assert (new_year.working, new_year.name, new_year.source) == (False, "元旦", "override")
    assert (worked.working, worked.name, worked.source) == (True, "元旦调休上班", "override")
    assert cal.describe(date(2031, 1, 3)).name == ""
    assert cal.announced(2031)


def test_an_override_name_replaces_the_announced_one() -> None:
    cal = WorkCalendar(parse_overrides("2024-10-01: {kind: workday, name: 值班}\n"))
    day = cal.describe(date(2024, 10, 1))
    assert (day.working, day.name, day.source) == (True, "值班", "override")


def test_a_shipped_override_name_is_what_the_admin_page_shows() -> None:
    assert default_calendar().describe(date(2027, 1, 1)).name == "元旦"
    assert default_calendar() is default_calendar()


@pytest.mark.parametrize("name", ["[元旦, 春节]", "{zh: 元旦}", "false", "0"])
def test_an_override_name_that_is_no_text_is_reported_not_dropped(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_overrides(f"2031-01-01: {{kind: holiday, name: {name}}}\n")
    [problem] = caught.value.problems
    assert (problem.where, problem.rule, problem.file) == ("2031-01-01", "name", "calendar_overrides.yaml")


def test_a_name_of_digits_in_quotes_is_kept() -> None:
    assert parse_overrides('2031-01-01: {kind: holiday, name: "2031"}\n')[date(2031, 1, 1)].name == "2031"


# --- the overrides file's checks ------------------------------------------------------------


def test_an_empty_overrides_file_has_no_overrides(tmp_path: Path) -> None:
    assert parse_overrides("") == {}
    assert parse_overrides("# only a comment\n") == {}
    assert load_overrides(tmp_path / "missing.yaml") == {}
    path = tmp_path / "mine.yaml"
    path.write_text("2031-01-01: holiday\n", encoding="utf-8")
    assert load_overrides(path) == {date(2031, 1, 1): DayOverride(date(2031, 1, 1), DayKind.HOLIDAY)}


def test_problems_of_a_file_on_disk_name_that_file(tmp_path: Path) -> None:
    path = tmp_path / "local-holidays.yaml"
    path.write_text("2031-01-01: vacation\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load_overrides(path)
    assert [p.file for p in caught.value.problems] == ["local-holidays.yaml"]


def test_an_overrides_file_that_is_no_mapping_or_no_yaml_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_overrides("- 2031-01-01\n", filename="local.yaml")
    [problem] = caught.value.problems
    assert (problem.rule, problem.file) == ("schema", "local.yaml")
    assert "local.yaml" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        parse_overrides("2031-01-01: [holiday\n", filename="local.yaml")
    [problem] = caught.value.problems
    assert (problem.rule, problem.file) == ("yaml", "local.yaml")


def test_every_bad_entry_names_its_rule_and_date() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_overrides(
            "2031-02-30: holiday\n"
            "31-01-01: holiday\n"
            "2031-01-05 10:00:00: holiday\n"
            "20310106: holiday\n"
            "2031-01-02: {kind: vacation}\n"
            "2031-01-03: {kind: holiday, when: x, why: y}\n"
            "2031-01-07: {name: 无类型}\n"
            "' 2031-01-08 ': workday\n",  # spaces around a date are forgiven
        )
    found = [(p.where, p.rule, p.file) for p in caught.value.problems]
    assert found == [
        ("2031-02-30", "date", "calendar_overrides.yaml"),
        ("31-01-01", "date", "calendar_overrides.yaml"),
        ("2031-01-05 10:00:00", "date", "calendar_overrides.yaml"),
        ("20310106", "date", "calendar_overrides.yaml"),
        ("2031-01-02", "kind", "calendar_overrides.yaml"),
        ("2031-01-03", "schema", "calendar_overrides.yaml"),
        ("2031-01-07", "kind", "calendar_overrides.yaml"),
    ]
    assert "7 problem(s)" in str(caught.value)
    assert "when, why" in caught.value.problems[5].message


def test_an_entry_with_an_unknown_key_still_counts_once_reported() -> None:
    # The unknown key is a problem, so the file is refused as a whole; the kind itself was fine.
    with pytest.raises(InvalidInput) as caught:
        parse_overrides("2031-01-03: {kind: holiday, note: x}\n2031-01-04: holiday\n")
    assert [p.rule for p in caught.value.problems] == ["schema"]


# --- the time zone a caller passes, and the local date --------------------------------------


def test_a_zero_day_limit_ends_the_working_day_of_the_zone_passed_in() -> None:
    cal = WorkCalendar()
    monday_10_utc = utc(2025, 3, 3, 10)  # 18:00 in Beijing: after hours there
    assert cal.add_working_days(monday_10_utc, 0) == cst(2025, 3, 4, 17)
    assert cal.add_working_days(monday_10_utc, 0, tz="UTC") == utc(2025, 3, 3, 17)
    # A UTC calendar gives the same answer without being told.
    assert WorkCalendar(tz="UTC").add_working_days(monday_10_utc, 0) == utc(2025, 3, 3, 17)


def test_a_zone_passed_in_moves_the_office_hours() -> None:
    cal = WorkCalendar()
    start = utc(2025, 3, 3, 9)  # 17:00 in Beijing
    assert cal.add_working_days(start, 0.5, tz="UTC") == utc(2025, 3, 3, 13)
    assert cal.add_working_days(start, 0.5) == cst(2025, 3, 4, 13)
    assert cal.working_time_between(utc(2025, 3, 3, 9), utc(2025, 3, 3, 12), tz="UTC") == timedelta(hours=3)
    assert cal.working_time_between(utc(2025, 3, 3, 9), utc(2025, 3, 3, 12)) == timedelta(0)
    assert cal.add_working_time(utc(2025, 3, 3, 9), timedelta(hours=1), tz="UTC") == utc(2025, 3, 3, 10)


def test_a_zero_day_limit_ends_on_the_zones_date_where_office_hours_straddle_utc_midnight() -> None:
    # Auckland's office hours (UTC+13 in March) begin on the previous UTC date.
    start = datetime(2025, 3, 3, 10, tzinfo=ZoneInfo("Pacific/Auckland"))
    due = WorkCalendar().add_working_days(start, 0, tz="Pacific/Auckland")
    assert due == datetime(2025, 3, 3, 17, tzinfo=ZoneInfo("Pacific/Auckland"))
    # An hour from 10:00 that Monday is 11:00 that Monday (its UTC date is a Sunday).
    hour = WorkCalendar().add_working_days(start, 0.125, tz="Pacific/Auckland")
    assert hour == datetime(2025, 3, 3, 11, tzinfo=ZoneInfo("Pacific/Auckland"))


def test_working_time_is_counted_on_the_zones_dates_where_office_hours_straddle_utc_midnight() -> None:
    auckland = ZoneInfo("Pacific/Auckland")
    monday_10, tuesday_10 = (
        datetime(2025, 3, 3, 10, tzinfo=auckland),
        datetime(2025, 3, 4, 10, tzinfo=auckland),
    )
    # 7 h on Monday and 1 h on Tuesday; in UTC the first is a Sunday and the second a Monday.
    cal = WorkCalendar()
    assert cal.working_time_between(monday_10, tuesday_10, tz="Pacific/Auckland") == timedelta(hours=8)


def test_due_times_are_given_in_utc() -> None:
    cal = WorkCalendar()
    inside, before, zero = cst(2025, 3, 3, 10), cst(2025, 3, 3, 7), timedelta(0)
    for moment in (
        cal.add_working_time(inside, timedelta(hours=1)),
        cal.add_working_time(before, timedelta(hours=1)),
        cal.add_working_time(inside, zero),
        cal.add_working_days(inside, 0),
        cal.add_working_days(inside, 3),
        cal.add_working_days(inside, 2.5),
    ):
        assert moment.tzinfo is UTC


def test_the_local_date_is_the_calendar_zones_date() -> None:
    late_utc = utc(2025, 3, 3, 16, 30)  # already 4 March in Beijing
    assert WorkCalendar().local_date(late_utc) == date(2025, 3, 4)
    assert WorkCalendar(tz="UTC").local_date(late_utc) == date(2025, 3, 3)
    assert WorkCalendar().local_date(utc(2025, 3, 3, 15, 59)) == date(2025, 3, 3)
    with pytest.raises(ValueError, match="moment must be timezone-aware"):
        WorkCalendar().local_date(datetime(2025, 3, 3, 16, 30))


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        WorkCalendar(tz="Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkCalendar().add_working_days(utc(2025, 3, 3), 1, tz="Mars/Olympus")


# --- working hours --------------------------------------------------------------------------


def test_the_working_day_can_have_other_hours() -> None:
    cal = WorkCalendar(day_start=time(8, 30), day_end=time(12, 0))
    assert cal.seconds_per_day == 3.5 * 3600
    assert cal.add_working_days(cst(2025, 3, 3, 8), 1) == cst(2025, 3, 3, 12)
    assert cal.add_working_days(cst(2025, 3, 3, 10), 1) == cst(2025, 3, 4, 10)
    assert cal.working_days_between(cst(2025, 3, 3, 8), cst(2025, 3, 3, 13)) == 1.0
    with pytest.raises(ValueError, match="start before it ends"):
        WorkCalendar(day_start=time(17), day_end=time(9))
    with pytest.raises(ValueError, match="start before it ends"):
        WorkCalendar(day_start=time(9), day_end=time(9))


def test_zero_working_time_is_the_next_working_moment() -> None:
    cal = WorkCalendar()
    assert cal.add_working_time(cst(2025, 3, 3, 10), timedelta(0)) == cst(2025, 3, 3, 10)
    assert cal.add_working_time(cst(2025, 3, 3, 17), timedelta(0)) == cst(2025, 3, 4, 9)
    assert cal.add_working_time(cst(2025, 3, 8, 10), timedelta(0)) == cst(2025, 3, 10, 9)  # Saturday
    assert cal.add_working_time(cst(2025, 3, 3, 7), timedelta(0)) == cst(2025, 3, 3, 9)
    assert cal.add_working_days(cst(2025, 3, 8, 10), 0) == cst(2025, 3, 10, 17)


def test_working_time_that_fills_the_rest_of_a_day_ends_at_its_close() -> None:
    cal = WorkCalendar()
    assert cal.add_working_time(cst(2025, 3, 3, 10), timedelta(hours=7)) == cst(2025, 3, 3, 17)
    assert cal.add_working_time(cst(2025, 3, 3, 10), timedelta(hours=7, seconds=1)) == cst(2025, 3, 4, 9) + (
        timedelta(seconds=1)
    )
    assert cal.add_working_time(cst(2025, 3, 3, 10), timedelta(hours=15)) == cst(2025, 3, 4, 17)
    assert cal.add_working_time(cst(2025, 3, 3, 18), timedelta(hours=16)) == cst(2025, 3, 5, 17)


def test_negative_limits_and_naive_moments_are_refused() -> None:
    cal = WorkCalendar()
    with pytest.raises(ValueError, match="must not be negative"):
        cal.add_working_days(cst(2025, 3, 3, 10), -0.5)
    with pytest.raises(ValueError, match="must not be negative"):
        cal.add_working_time(cst(2025, 3, 3, 10), timedelta(seconds=-1))
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        cal.add_working_time(datetime(2025, 3, 3, 10), timedelta(hours=1))
    with pytest.raises(ValueError, match="a must be timezone-aware"):
        cal.working_time_between(datetime(2025, 3, 3, 10), cst(2025, 3, 3, 11))
    with pytest.raises(ValueError, match="b must be timezone-aware"):
        cal.working_time_between(cst(2025, 3, 3, 10), datetime(2025, 3, 3, 11))


def test_working_time_inside_one_day_and_across_days() -> None:
    cal = WorkCalendar()
    assert cal.working_time_between(cst(2025, 3, 3, 8), cst(2025, 3, 3, 10)) == timedelta(hours=1)
    assert cal.working_time_between(cst(2025, 3, 3, 16), cst(2025, 3, 3, 18)) == timedelta(hours=1)
    assert cal.working_time_between(cst(2025, 3, 3, 10), cst(2025, 3, 3, 10)) == timedelta(0)
    # Monday 16:00 to Wednesday 10:00: 1 h + 8 h + 1 h.
    assert cal.working_time_between(cst(2025, 3, 3, 16), cst(2025, 3, 5, 10)) == timedelta(hours=10)
    # Saturday to Monday 10:00: only Monday's hour.
    assert cal.working_time_between(cst(2025, 3, 8, 10), cst(2025, 3, 10, 10)) == timedelta(hours=1)


# --- loading ------------------------------------------------------------------------------


def test_load_takes_the_path_then_the_settings_then_the_shipped_file(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("2031-01-06: holiday\n", encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text("2031-01-07: holiday\n", encoding="utf-8")
    assert set(WorkCalendar.load(path=mine).overrides) == {date(2031, 1, 6)}
    settings = SimpleNamespace(calendar_overrides=other)
    assert set(WorkCalendar.load(settings).overrides) == {date(2031, 1, 7)}
    assert set(WorkCalendar.load(settings, path=mine).overrides) == {date(2031, 1, 6)}
    shipped = WorkCalendar.load(SimpleNamespace(calendar_overrides=None)).overrides
    assert date(2027, 1, 1) in shipped
    assert date(2027, 1, 1) in WorkCalendar.load(SimpleNamespace()).overrides
    assert date(2027, 1, 1) in WorkCalendar.load().overrides


def test_overrides_may_be_given_as_a_mapping_or_as_entries() -> None:
    entry = DayOverride(date(2025, 3, 5), DayKind.HOLIDAY, "地方假日")
    for cal in (WorkCalendar({entry.day: entry}), WorkCalendar([entry])):
        assert not cal.is_working_day(date(2025, 3, 5))
        assert cal.overrides == {entry.day: entry}
