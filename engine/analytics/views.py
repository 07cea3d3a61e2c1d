"""What analysts read: the result values of the analytics queries (frozen dataclasses).

``engine.analytics.queries`` builds them from the aggregate rows; the API turns them into
its response schemas and the studio pages draw them. Durations are seconds of working time
unless a field says days.

Rows of a query grouped by division (``engine.analytics.grouping``) carry the group's code
and full name in ``division`` and ``division_name``; ungrouped rows leave them None.

May import: ``engine.analytics.sketch``, ``engine.cases.views`` (``Label``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from engine.analytics.sketch import sketch_median, sketch_quantile
from engine.cases.views import Label


@dataclass(frozen=True)
class Durations:
    """Median, p90 and mean of a set of durations, in seconds of working time."""

    median: float | None
    p90: float | None
    mean: float | None

    @classmethod
    def of(cls, sketch: Mapping[str, int], total: float, count: int) -> Durations:
        """Summarise a sketch and the exact sum of its values."""
        return cls(sketch_median(sketch), sketch_quantile(sketch, 0.9), total / count if count else None)


@dataclass(frozen=True)
class ProblemCount:
    """How often a field or material was the reason for a return, with a recent message."""

    where: str
    count: int
    message: str


@dataclass(frozen=True)
class Ratings:
    """A rating distribution: counts per score 1..5."""

    counts: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    @property
    def total(self) -> int:
        """Number of ratings."""
        return sum(self.counts)

    @property
    def mean(self) -> float | None:
        """The mean score, None without ratings."""
        n = self.total
        return None if n == 0 else sum((i + 1) * c for i, c in enumerate(self.counts)) / n

    @property
    def satisfied_rate(self) -> float | None:
        """Share of ratings 4 or 5 (满意率)."""
        n = self.total
        return None if n == 0 else (self.counts[3] + self.counts[4]) / n

    def add(self, other: Ratings) -> Ratings:
        """The sum of two distributions."""
        a, b = self.counts, other.counts
        return Ratings((a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4]))


@dataclass(frozen=True)
class BottleneckRow:
    """One task of one bundle version: how long it waits and takes, how often it is late or returned."""

    bundle: str
    version: int
    item: str
    task: str
    department: str
    count: int
    wait: Durations
    work: Durations
    overdue: int
    overdue_rate: float
    returns: int
    return_rate: float
    top_problems: tuple[ProblemCount, ...]
    ratings: Ratings
    division: str | None = None
    division_name: Label | None = None
    # Returns between departments (``engine.analytics.step_returns``): sent to another
    # department's earlier step from this item, and this item's decisions reopened so.
    sent_back: int = 0
    reopened: int = 0


@dataclass(frozen=True)
class DepartmentRow:
    """One department across bundles: the same measures, plus complaints."""

    department: str
    count: int
    wait: Durations
    work: Durations
    overdue: int
    overdue_rate: float
    returns: int
    return_rate: float
    top_problems: tuple[ProblemCount, ...]
    ratings: Ratings
    complaints: int
    division: str | None = None
    division_name: Label | None = None
    sent_back: int = 0
    reopened: int = 0
    # 挂起: suspended cases now and ever, and their suspended working time (engine.analytics.suspensions).
    suspended_now: int = 0
    suspended_cases: int = 0
    suspended_seconds: float = 0.0
    suspended_mean_seconds: float | None = None


@dataclass(frozen=True)
class Measures:
    """Steps, days, materials and trips of one way of getting the thing done."""

    steps: float
    days: float
    materials: float
    trips: float | None


@dataclass(frozen=True)
class ReductionRow:
    """Before (baseline) and after (model, and real finished cases) for one bundle, in percent."""

    bundle: str
    version: int
    name: dict[str, str]
    before: Measures
    model: Measures
    real: Measures | None
    cases: int
    percent_model: dict[str, float | None]
    percent_real: dict[str, float | None]
    source: str = ""
    division: str | None = None
    division_name: Label | None = None
    # 挂起: suspended cases now and ever, and their suspended working time (engine.analytics.suspensions).
    suspended_now: int = 0
    suspended_cases: int = 0
    suspended_seconds: float = 0.0
    suspended_mean_seconds: float | None = None


@dataclass(frozen=True)
class OfficeRow:
    """One office (department, division) in the ranking supervisors publish: on time, then rated.

    ``on_time_rate`` = tasks finished not overdue / tasks finished; ``ratings`` are those of
    the cases its tasks served (``engine.analytics.rows.OfficeRatingStats`` says how a
    rating is attributed). ``rank`` is 1-based; offices with equal figures share none.
    """

    rank: int
    department: str
    division: str
    name: Label
    division_name: Label
    finished: int
    on_time: int
    on_time_rate: float | None
    overdue: int
    returns: int
    wait: Durations
    work: Durations
    ratings: Ratings


@dataclass(frozen=True)
class DurationDistribution:
    """Case durations (submission to completion) in working days, binned for a histogram."""

    bundle: str
    count: int
    median_days: float | None
    p90_days: float | None
    mean_days: float | None
    bin_days: float
    bins: tuple[tuple[float, float, int], ...]


@dataclass(frozen=True)
class TrendPoint:
    """One period (day, week from Monday, or month) of a bundle's or department's history."""

    start: date
    tasks_completed: int
    tasks_overdue: int
    overdue_rate: float | None
    went_overdue: int
    returns: int
    ratings: int
    rating_mean: float | None
    bad_ratings: int
    complaints: int
    cases_completed: int
    case_days_mean: float | None


@dataclass(frozen=True)
class HeatCell:
    """Median wait of one BPMN user task, for colouring the diagram."""

    task: str
    item: str
    department: str
    count: int
    median_wait: float | None
    p90_wait: float | None
