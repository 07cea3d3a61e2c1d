"""The aggregate tables of analytics (per task, case, day, rating counts) and the facts queued for them.

Five small tables, kept up to date by ``engine.analytics.recording`` and refilled by
``engine.analytics.rebuild``: per task (bundle,
version, item, department, division), per case (bundle, version, division), per local day
(day, bundle, department, division) for trends, rating counts per (bundle, version,
department, division of the case) and rating counts per office (bundle, version,
department, division of the office).

Completed tasks and finished cases reach the per-task, per-case and per-day rows through
``analytics_facts``: the change's transaction queues what it counts for (``PendingFact``),
and ``engine.analytics.projection`` adds the queued facts to the aggregates in batches
(``engine.analytics.projection`` says why).

Every row keeps the division (行政区划 code) it counts for, so the queries filter a
division's subtree and roll rows up to a level without going back to the history: a task
counts for the division of the office that handled it (``WorkItem.division``), a case for
the division that decided it (``Case.division``; a case without one, from before regions,
for the default division, where it was handled).

May import: ``engine.storage``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base, BigId, utcnow


class TaskStats(Base):
    """Completed tasks of one item of one bundle version at one office (department, division)."""

    __tablename__ = "task_stats"

    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    division: Mapped[str] = mapped_column(String(12), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(128), default="")
    finished: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    wait_sum: Mapped[float] = mapped_column(Float, default=0.0)
    work_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wait_sketch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    work_sketch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    problems: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseStats(Base):
    """Finished cases of one bundle version decided in one division: durations, what the applicant did."""

    __tablename__ = "case_stats"

    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    division: Mapped[str] = mapped_column(String(12), primary_key=True)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    # Sums over completed cases (for the averages of the reductions).
    working_sum: Mapped[float] = mapped_column(Float, default=0.0)
    steps_sum: Mapped[int] = mapped_column(Integer, default=0)
    materials_sum: Mapped[int] = mapped_column(Integer, default=0)
    duration_sketch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PeriodStats(Base):
    """Counts per local day, bundle, department ('' = the whole bundle) and division.

    Task counts are the handling office's division; case, rating and complaint counts the
    case's (the default division for a complaint without a case).
    """

    __tablename__ = "period_stats"
    __table_args__ = (Index("ix_period_stats_bundle", "bundle_key", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    division: Mapped[str] = mapped_column(String(12), primary_key=True)
    tasks_completed: Mapped[int] = mapped_column(Integer, default=0)
    tasks_overdue: Mapped[int] = mapped_column(Integer, default=0)
    tasks_returned: Mapped[int] = mapped_column(Integer, default=0)
    went_overdue: Mapped[int] = mapped_column(Integer, default=0)
    wait_sum: Mapped[float] = mapped_column(Float, default=0.0)
    work_sum: Mapped[float] = mapped_column(Float, default=0.0)
    cases_completed: Mapped[int] = mapped_column(Integer, default=0)
    case_working_sum: Mapped[float] = mapped_column(Float, default=0.0)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    ratings_bad: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0)


class RatingStats(Base):
    """Ratings (好差评) per bundle version, department ('' = the whole bundle) and the case's division."""

    __tablename__ = "rating_stats"

    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    division: Mapped[str] = mapped_column(String(12), primary_key=True)
    s1: Mapped[int] = mapped_column(Integer, default=0)
    s2: Mapped[int] = mapped_column(Integer, default=0)
    s3: Mapped[int] = mapped_column(Integer, default=0)
    s4: Mapped[int] = mapped_column(Integer, default=0)
    s5: Mapped[int] = mapped_column(Integer, default=0)


class OfficeRatingStats(Base):
    """Ratings per office (department, division) of the cases its tasks served.

    How a rating is attributed: a rating of the whole bundle (department '') counts once for
    every office whose task of the rated case was completed (one case may pass through
    several divisions: 多地联办, province-level items); a rating of one department counts
    once for each office of that department that completed a task of the case (usually one).
    Offices whose tasks were all cancelled served nothing and get nothing.
    """

    __tablename__ = "office_rating_stats"

    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    division: Mapped[str] = mapped_column(String(12), primary_key=True)
    s1: Mapped[int] = mapped_column(Integer, default=0)
    s2: Mapped[int] = mapped_column(Integer, default=0)
    s3: Mapped[int] = mapped_column(Integer, default=0)
    s4: Mapped[int] = mapped_column(Integer, default=0)
    s5: Mapped[int] = mapped_column(Integer, default=0)


class PendingFact(Base):
    """A completed task or finished case, queued by its change's transaction for the aggregate rows.

    ``fact`` holds everything the aggregates take from it (the keys, the working times, the
    local day), worked out when it happened, so projecting it later reads nothing else and
    counts exactly what counting it at once would have.
    """

    __tablename__ = "analytics_facts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # "task" or "case"
    at: Mapped[datetime] = mapped_column()  # when it happened (the aggregate row's updated_at)
    fact: Mapped[dict[str, Any]] = mapped_column()
