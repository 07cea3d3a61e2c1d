"""What one finished task or case adds to the aggregate rows: the arithmetic recording and rebuild share.

A task's wait and work (working time, minus the pauses of the case's clocks), whether it
was late or returned, and the problems it was returned for; a case's duration, steps and
materials. ``TaskAgg`` is a ``TaskStats`` row's running totals, filled one task at a time
by the completion hook and in bulk by ``rebuild`` (and the analytics benchmark); ``measures``
derives the figures analysts read from them.

May import: ``engine.analytics.sketch``, ``engine.analytics.views``, ``engine.analytics.rows``,
``engine.cases``, ``engine.storage``, ``engine.time``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row

from engine.analytics.rows import TaskStats
from engine.analytics.sketch import sketch_add, sketch_merge
from engine.analytics.views import Durations, ProblemCount
from engine.cases.states import CaseStatus, Outcome
from engine.storage.models import Case, WorkItem
from engine.time.calendar import WorkCalendar

# -- tasks ------------------------------------------------------------------------------


@dataclass
class TaskAgg:
    """One task's running totals and wait/work sketches: what a ``TaskStats`` row holds.

    Public because the completion hook, ``rebuild`` and the analytics benchmark all fill the
    table with this same arithmetic.
    """

    task_name: str = ""
    finished: int = 0
    overdue: int = 0
    returned: int = 0
    wait_sum: float = 0.0
    work_sum: float = 0.0
    wait_sketch: dict[str, int] = field(default_factory=dict)
    work_sketch: dict[str, int] = field(default_factory=dict)
    problems: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, wait: float, work: float, overdue: bool, returned: bool, problems: Iterable[Any]) -> None:
        """Count one completed task."""
        self.finished += 1
        self.overdue += int(overdue)
        self.returned += int(returned)
        self.wait_sum += wait
        self.work_sum += work
        sketch_add(self.wait_sketch, wait)
        sketch_add(self.work_sketch, work)
        for problem in problems:
            where, message = _problem_key(problem)
            entry = self.problems.setdefault(where, {"count": 0, "message": ""})
            entry["count"] = int(entry["count"]) + 1
            if message:
                entry["message"] = message

    @classmethod
    def from_row(cls, row: TaskStats | Row[Any]) -> TaskAgg:
        """The totals of a stored row (an ORM ``TaskStats`` or a Core row of its table)."""
        return cls(
            row.task_name,
            row.finished,
            row.overdue,
            row.returned,
            row.wait_sum,
            row.work_sum,
            {k: int(v) for k, v in row.wait_sketch.items()},
            {k: int(v) for k, v in row.work_sketch.items()},
            {k: dict(v) for k, v in row.problems.items()},
        )

    def merge(self, row: TaskStats) -> None:
        """Add a stored row's counts (sketches of disjoint tasks merge exactly)."""
        self.finished += row.finished
        self.overdue += row.overdue
        self.returned += row.returned
        self.wait_sum += row.wait_sum
        self.work_sum += row.work_sum
        sketch_merge(self.wait_sketch, row.wait_sketch)
        sketch_merge(self.work_sketch, row.work_sketch)
        for where, entry in row.problems.items():
            target = self.problems.setdefault(where, {"count": 0, "message": ""})
            target["count"] = int(target["count"]) + int(entry.get("count", 0))
            target["message"] = entry.get("message") or target["message"]

    def write(self, row: TaskStats) -> None:
        """Set a ``TaskStats`` row to these totals."""
        row.task_name = self.task_name or row.task_name
        row.finished, row.overdue, row.returned = self.finished, self.overdue, self.returned
        row.wait_sum, row.work_sum = self.wait_sum, self.work_sum
        row.wait_sketch, row.work_sketch = dict(self.wait_sketch), dict(self.work_sketch)
        row.problems = {k: dict(v) for k, v in self.problems.items()}

    def values(self) -> dict[str, Any]:
        """The columns ``write`` sets, as parameters of a Core UPDATE of ``task_stats``."""
        return {
            "task_name": self.task_name,
            "finished": self.finished,
            "overdue": self.overdue,
            "returned": self.returned,
            "wait_sum": self.wait_sum,
            "work_sum": self.work_sum,
            "wait_sketch": self.wait_sketch,
            "work_sketch": self.work_sketch,
            "problems": self.problems,
        }

    def measures(self) -> dict[str, Any]:
        """The fields ``BottleneckRow`` and ``DepartmentRow`` share, derived one way for both."""
        return {
            "count": self.finished,
            "wait": Durations.of(self.wait_sketch, self.wait_sum, self.finished),
            "work": Durations.of(self.work_sketch, self.work_sum, self.finished),
            "overdue": self.overdue,
            "overdue_rate": _rate(self.overdue, self.finished),
            "returns": self.returned,
            "return_rate": _rate(self.returned, self.finished),
            "top_problems": _top_problems(self.problems),
        }


def _problem_key(problem: Any) -> tuple[str, str]:
    if not isinstance(problem, Mapping):
        return "other", str(problem)
    message = str(problem.get("message", "") or "")
    for kind in ("field", "material"):
        if problem.get(kind):
            return f"{kind}:{problem[kind]}", message
    if problem.get("where"):
        return f"field:{problem['where']}", message
    return "other", message


# The columns of TaskStats that TaskAgg holds (record_completion reads and writes them).
TASK_COLUMNS = (
    "task_name",
    "finished",
    "overdue",
    "returned",
    "wait_sum",
    "work_sum",
    "wait_sketch",
    "work_sketch",
    "problems",
)


@dataclass(frozen=True)
class TaskFact:
    """What one completed task adds: its wait and work (seconds), lateness, return, and local day."""

    wait: float
    work: float
    overdue: bool
    returned: bool
    day: date


def pause_interval(detail: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The stretch a ``ClocksPaused`` audit line says the clocks stood still (its ``from`` and ``to``)."""
    return datetime.fromisoformat(str(detail["from"])), datetime.fromisoformat(str(detail["to"]))


def _working(
    calendar: WorkCalendar, a: datetime, b: datetime, pauses: Sequence[tuple[datetime, datetime]]
) -> float:
    """Working seconds in [a, b) outside the pauses."""
    total = calendar.working_time_between(a, b).total_seconds()
    for start, end in pauses:
        lo, hi = max(a, start), min(b, end)
        if lo < hi:
            total -= calendar.working_time_between(lo, hi).total_seconds()
    return max(0.0, total)


def task_fact(
    calendar: WorkCalendar, item: WorkItem, pauses: Sequence[tuple[datetime, datetime]]
) -> TaskFact:
    """What a completed task counts for; ``pauses`` are its case's (the clocks stood still then)."""
    completed = item.completed_at or item.created_at
    claimed = item.claimed_at or completed
    wait = _working(calendar, item.created_at, claimed, pauses)
    work = _working(calendar, claimed, completed, pauses)
    late = bool(item.overdue) or (item.due_at is not None and completed > item.due_at)
    returned = item.outcome == Outcome.RETURN
    return TaskFact(wait, work, late, returned, calendar.local_date(completed))


# -- cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFact:
    """What one finished case adds: how it ended, its duration (seconds), steps, materials, local day."""

    status: str
    working: float
    steps: int
    materials: int
    day: date


def case_fact(calendar: WorkCalendar, case: Case, materials: int) -> CaseFact:
    """What a finished case counts for, given the materials the applicant supplied.

    Its duration leaves out the working time it was suspended (挂起: not counted in the time limit).
    """
    finished = case.finished_at or case.updated_at
    elapsed = calendar.working_time_between(case.created_at, finished).total_seconds()
    working = max(0.0, elapsed - float(case.suspended_seconds or 0.0))
    return CaseFact(
        str(case.status), working, max(1, int(case.round or 1)), materials, calendar.local_date(finished)
    )


_CASE_COUNTS = ("completed", "rejected", "withdrawn", "working_sum", "steps_sum", "materials_sum")
CASE_COLUMNS = (*_CASE_COUNTS, "duration_sketch")  # what record_case_finished reads and writes


def case_values(row: Row[Any] | None) -> dict[str, Any]:
    """The counting columns of a ``CaseStats`` row (zeros for a new one)."""
    if row is None:
        return {
            "completed": 0,
            "rejected": 0,
            "withdrawn": 0,
            "working_sum": 0.0,
            "steps_sum": 0,
            "materials_sum": 0,
            "duration_sketch": {},
        }
    return dict(row._mapping)


def add_case(values: dict[str, Any], fact: CaseFact) -> None:
    """Count a finished case into the columns of its ``CaseStats`` row (``case_values``)."""
    if fact.status == CaseStatus.REJECTED:
        values["rejected"] = (values["rejected"] or 0) + 1
        return
    if fact.status == CaseStatus.WITHDRAWN:
        values["withdrawn"] = (values["withdrawn"] or 0) + 1
        return
    values["completed"] = (values["completed"] or 0) + 1
    values["working_sum"] = (values["working_sum"] or 0.0) + fact.working
    values["steps_sum"] = (values["steps_sum"] or 0) + fact.steps
    values["materials_sum"] = (values["materials_sum"] or 0) + fact.materials
    sketch = {k: int(v) for k, v in (values["duration_sketch"] or {}).items()}
    sketch_add(sketch, fact.working)
    values["duration_sketch"] = sketch


# -- the figures analysts read -----------------------------------------------------------


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _top_problems(problems: Mapping[str, Mapping[str, Any]], limit: int = 5) -> tuple[ProblemCount, ...]:
    ranked = sorted(problems.items(), key=lambda kv: (-int(kv[1].get("count", 0)), kv[0]))
    return tuple(
        ProblemCount(where, int(entry.get("count", 0)), str(entry.get("message", "")))
        for where, entry in ranked[:limit]
    )
