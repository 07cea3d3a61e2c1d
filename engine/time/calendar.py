"""The working-day clock (工作日): due times in working days, and how much working time passed.

Legal time limits (法定办结时限) are counted in working days, without weekends and public
holidays, and with the adjusted working days (调休) the State Council announces each year.
The announced days come from the ``chinesecalendar`` package; an admin-editable YAML file
(``engine/time/calendar_overrides.yaml`` or the file ``Settings.calendar_overrides`` names)
extends it to years the package does not know yet and overrides single days (a local
holiday, a correction). Years known to neither fall back to Monday-Friday.

Definitions (exact, so every part of onething counts time the same way):

- A **working day** is a date that ``is_working_day`` says is one: an override if the file
  lists the date, else the announced calendar, else Monday-Friday.
- **Working time** runs from 09:00 to 17:00 local time (Asia/Shanghai by default) on
  working days: 8 hours a day. Outside that window the clock stands still.
- ``add_working_days(start, d)`` for ``d > 0`` is the moment when ``d x 8`` hours of
  working time have passed since ``start``. Fractions are hours of that 8-hour day
  (0.5 = 4 working hours). The clock starts at ``start`` if it lies inside working
  hours, otherwise at the next 09:00 of a working day. Work that ends exactly at 17:00
  ends at 17:00 of that day (not 09:00 of the next). So a 1-day limit started Monday
  10:00 ends Tuesday 10:00; started on Saturday it ends Monday 17:00.
- ``add_working_days(start, 0)`` is the end (17:00) of the working day on which the clock
  starts: "same day" (当日办结).
- ``working_time_between(a, b)`` is the working time inside ``[a, b)``; for ``d > 0``
  ``working_time_between(s, add_working_days(s, d)) == d x 8 h`` exactly.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import yaml

from engine.errors import InvalidInput, Problem

DEFAULT_TZ = "Asia/Shanghai"
DAY_START = dt.time(9, 0)
DAY_END = dt.time(17, 0)
HOURS_PER_DAY = 8
SECONDS_PER_DAY = HOURS_PER_DAY * 3600
OVERRIDES_FILE = Path(__file__).resolve().with_name("calendar_overrides.yaml")

# The calendar tables are built from this date on; earlier dates are counted day by day.
_BASE = dt.date(2000, 1, 1)
# The package's announced days, read once: its own lookups rescan every key for the year
# range on each call, which made building a year's table cost a third of a second.
_HOLIDAYS: Mapping[dt.date, Any] = chinese_calendar.holidays
_WORKDAYS: Mapping[dt.date, Any] = chinese_calendar.workdays
_ANNOUNCED_YEARS = range(min(_HOLIDAYS).year, max(_HOLIDAYS).year + 1)


class DayKind(StrEnum):
    """What an override makes of a date."""

    WORKDAY = "workday"
    HOLIDAY = "holiday"


@dataclass(frozen=True)
class DayOverride:
    """One entry of the overrides file: this date is a working day or a holiday, and why."""

    day: dt.date
    kind: DayKind
    name: str = ""


@dataclass(frozen=True)
class DayInfo:
    """How the calendar sees one date, and where that came from (for the admin page)."""

    day: dt.date
    working: bool
    name: str
    source: str  # "override" | "announced" | "weekday-rule"


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


class _DatesAsText(yaml.SafeLoader):
    """YAML's safe loader, but dates stay text: an impossible date is a problem to report, not a crash."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_overrides(
    text: str | bytes, filename: str = "calendar_overrides.yaml"
) -> dict[dt.date, DayOverride]:
    """Read an overrides file: ``YYYY-MM-DD: {kind: holiday|workday, name: ...}`` (or ``: holiday``).

    Every bad entry is reported at once (``InvalidInput``), so an admin fixes the file in one go.
    """
    try:
        raw = yaml.load(text, Loader=_DatesAsText)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InvalidInput(
            f"{filename}: not valid YAML",
            [Problem(f"不是有效的 YAML: {exc}", file=filename, rule="yaml", message_en="not valid YAML")],
        ) from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(
            f"{filename}: not a mapping",
            [Problem("文件须为 日期: 类型 的映射", file=filename, rule="schema", message_en="not a mapping")],
        )
    found: dict[dt.date, DayOverride] = {}
    problems: list[Problem] = []
    for key, value in raw.items():
        day = _as_date(key)
        where = str(key)
        if day is None:
            problems.append(
                Problem(f"不是日期: {key!r}", where=where, file=filename, rule="date", message_en="no date")
            )
            continue
        kind_text: Any = value
        name: Any = ""
        if isinstance(value, dict):
            unknown = set(value) - {"kind", "name"}
            if unknown:
                problems.append(
                    Problem(
                        f"未知的键: {', '.join(sorted(map(str, unknown)))}",
                        where=where,
                        file=filename,
                        rule="schema",
                        message_en="unknown keys",
                    )
                )
            kind_text, name = value.get("kind"), value.get("name", "")
            # YAML reads `name: 0`, `name: no` or `name: [a, b]` as no text: reported, not dropped or mangled.
            if name is not None and not isinstance(name, str):
                problems.append(
                    Problem(
                        f"名称须为文本, 而不是 {name!r}",
                        where=where,
                        file=filename,
                        rule="name",
                        message_en="a name must be text",
                    )
                )
        try:
            kind = DayKind(str(kind_text))
        except ValueError:
            problems.append(
                Problem(
                    f"类型须为 workday 或 holiday, 而不是 {kind_text!r}",
                    where=where,
                    file=filename,
                    rule="kind",
                    message_en="kind must be workday or holiday",
                )
            )
            continue
        found[day] = DayOverride(day, kind, str(name or ""))
    if problems:
        raise InvalidInput(f"{filename}: {len(problems)} problem(s)", problems)
    return found


def load_overrides(path: Path) -> dict[dt.date, DayOverride]:
    """Read an overrides file from disk (a missing file means no overrides)."""
    if not path.exists():
        return {}
    return parse_overrides(path.read_bytes(), path.name)


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    return value


class WorkCalendar:
    """Working days and working hours; thread-safe, cheap to query (tables built lazily)."""

    def __init__(
        self,
        overrides: Mapping[dt.date, DayOverride] | Iterable[DayOverride] = (),
        *,
        tz: str = DEFAULT_TZ,
        day_start: dt.time = DAY_START,
        day_end: dt.time = DAY_END,
    ) -> None:
        if isinstance(overrides, Mapping):
            self.overrides: dict[dt.date, DayOverride] = dict(overrides)
        else:
            self.overrides = {o.day: o for o in overrides}
        if not day_start < day_end:
            raise ValueError("the working day must start before it ends")
        self.tz = tz
        self.day_start = day_start
        self.day_end = day_end
        self.seconds_per_day = (
            dt.datetime.combine(_BASE, day_end) - dt.datetime.combine(_BASE, day_start)
        ).total_seconds()
        _zone(tz)
        # _cum[i]: working days in [_BASE, _BASE + i days); grown a year at a time.
        self._cum: list[int] = [0]
        self._lock = threading.Lock()

    @classmethod
    def load(cls, settings: Any = None, path: Path | None = None) -> WorkCalendar:
        """The calendar of a process: the announced days plus the overrides file.

        The file is ``path`` if given, else ``settings.calendar_overrides`` when the settings
        have one, else the shipped ``engine/time/calendar_overrides.yaml``.
        """
        if path is None and settings is not None:
            configured = getattr(settings, "calendar_overrides", None)
            path = Path(configured) if configured else None
        return cls(load_overrides(path or OVERRIDES_FILE))

    # -- days --------------------------------------------------------------------------
    def describe(self, day: dt.date) -> DayInfo:
        """Whether a date is a working day, its holiday name, and which source decided."""
        override = self.overrides.get(day)
        if override is not None:
            return DayInfo(day, override.kind is DayKind.WORKDAY, override.name, "override")
        if day.year not in _ANNOUNCED_YEARS:
            return DayInfo(day, day.weekday() < 5, "", "weekday-rule")
        working = self._working(day)
        _, english = chinese_calendar.get_holiday_detail(day)
        name = ""
        if english:
            try:
                zh = chinese_calendar.Holiday(english).chinese
            except ValueError:
                zh = english
            name = zh if not working else f"{zh}调休上班"
        return DayInfo(day, working, name, "announced")

    def _working(self, day: dt.date) -> bool:
        """``describe(day).working`` without the names: what the tables are built from."""
        override = self.overrides.get(day)
        if override is not None:
            return override.kind is DayKind.WORKDAY
        if day.year in _ANNOUNCED_YEARS:
            return day in _WORKDAYS or (day.weekday() < 5 and day not in _HOLIDAYS)
        return day.weekday() < 5

    def is_working_day(self, day: dt.date) -> bool:
        """Whether government offices work on this date (调休 included)."""
        index = (day - _BASE).days
        if index < 0:
            return self._working(day)
        self._grow(index + 1)
        return self._cum[index + 1] > self._cum[index]

    def announced(self, year: int) -> bool:
        """Whether the holidays of a year are known (package or overrides), not guessed."""
        return year in _ANNOUNCED_YEARS or any(d.year == year for d in self.overrides)

    def _grow(self, size: int) -> None:
        if len(self._cum) > size:
            return
        with self._lock:
            cum = self._cum
            if len(cum) > size:
                return
            extended = list(cum)
            target = max(size + 1, len(extended) + 366)
            while len(extended) < target:
                day = _BASE + dt.timedelta(days=len(extended) - 1)
                extended.append(extended[-1] + (1 if self._working(day) else 0))
            self._cum = extended

    def _working_days_before(self, day: dt.date) -> int:
        """Working days in [_BASE, day)."""
        index = (day - _BASE).days
        if index < 0:
            raise ValueError(f"dates before {_BASE} are not supported")
        self._grow(index)
        return self._cum[index]

    def count_working_days(self, first: dt.date, end: dt.date) -> int:
        """Working days in ``[first, end)``."""
        if end <= first:
            return 0
        return self._working_days_before(end) - self._working_days_before(first)

    def _nth_working_day_after(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th (n >= 1) working day strictly after ``day``."""
        target = self._working_days_before(day + dt.timedelta(days=1)) + n
        while self._cum[-1] < target:
            self._grow(len(self._cum) + 366)
        index = bisect.bisect_left(self._cum, target)
        return _BASE + dt.timedelta(days=index - 1)

    # -- hours -------------------------------------------------------------------------
    def _window(self, day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.combine(day, self.day_start, tzinfo=zone).astimezone(dt.UTC)
        end = dt.datetime.combine(day, self.day_end, tzinfo=zone).astimezone(dt.UTC)
        return start, end

    def _overlap(self, a: dt.datetime, b: dt.datetime, day: dt.date, zone: ZoneInfo) -> float:
        if not self.is_working_day(day):
            return 0.0
        start, end = self._window(day, zone)
        return max(0.0, (min(b, end) - max(a, start)).total_seconds())

    def working_time_between(self, a: dt.datetime, b: dt.datetime, tz: str | None = None) -> dt.timedelta:
        """Working time inside ``[a, b)`` (zero when ``b <= a``): what counts against a department."""
        zone = _zone(tz or self.tz)
        a = _aware(a, "a").astimezone(dt.UTC)
        b = _aware(b, "b").astimezone(dt.UTC)
        if b <= a:
            return dt.timedelta(0)
        first, last = a.astimezone(zone).date(), b.astimezone(zone).date()
        if first == last:
            return dt.timedelta(seconds=self._overlap(a, b, first, zone))
        seconds = self._overlap(a, b, first, zone) + self._overlap(a, b, last, zone)
        seconds += self.count_working_days(first + dt.timedelta(days=1), last) * self.seconds_per_day
        return dt.timedelta(seconds=seconds)

    def add_working_time(
        self, start: dt.datetime, amount: dt.timedelta, tz: str | None = None
    ) -> dt.datetime:
        """The moment when ``amount`` of working time has passed since ``start`` (UTC).

        A zero amount gives the next working moment: ``start`` itself inside working hours.
        """
        if amount < dt.timedelta(0):
            raise ValueError("working time to add must not be negative")
        zone = _zone(tz or self.tz)
        start = _aware(start, "start").astimezone(dt.UTC)
        remaining = amount.total_seconds()
        day = start.astimezone(zone).date()
        if self.is_working_day(day):
            window_start, window_end = self._window(day, zone)
            begin = max(start, window_start)
            if begin < window_end:
                available = (window_end - begin).total_seconds()
                if remaining <= available:
                    return begin + dt.timedelta(seconds=remaining)
                remaining -= available
        if remaining <= 0:
            return self._window(self._nth_working_day_after(day, 1), zone)[0]
        whole = int(remaining // self.seconds_per_day)
        rest = remaining - whole * self.seconds_per_day
        if rest == 0:  # ends exactly at the end of a working day
            end_day = self._nth_working_day_after(day, whole)
            return self._window(end_day, zone)[1]
        end_day = self._nth_working_day_after(day, whole + 1)
        return self._window(end_day, zone)[0] + dt.timedelta(seconds=rest)

    def add_working_days(self, start: dt.datetime, days: float, tz: str | None = None) -> dt.datetime:
        """The due time of a limit of ``days`` working days started at ``start`` (see the module doc)."""
        if days < 0:
            raise ValueError("a time limit must not be negative")
        zone_name = tz or self.tz
        if days == 0:
            moment = self.add_working_time(start, dt.timedelta(0), zone_name)
            return self._window(moment.astimezone(_zone(zone_name)).date(), _zone(zone_name))[1]
        return self.add_working_time(start, dt.timedelta(seconds=days * self.seconds_per_day), zone_name)

    def due_for(self, item_time_limit_days: float, start: dt.datetime) -> dt.datetime:
        """The due time of an item's legal limit (``time_limit_days`` in bundle.yaml) from ``start``."""
        return self.add_working_days(start, item_time_limit_days)

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The calendar's local date of a moment (a day of the trends, a working day)."""
        return _aware(moment, "moment").astimezone(_zone(self.tz)).date()

    def working_days_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working time inside ``[a, b)`` in working days (8 hours each)."""
        return self.working_time_between(a, b).total_seconds() / self.seconds_per_day


@cache
def default_calendar() -> WorkCalendar:
    """The calendar with the shipped overrides file, built on first use (for scripts and tests)."""
    return WorkCalendar.load()
