"""Analytics by division: the aggregate tables keep the division they count for.

``task_stats``, ``case_stats``, ``period_stats`` and ``rating_stats`` gain ``division`` in
their primary keys (a task's office, a case's deciding division); ``office_rating_stats``
is new: ratings per office (department, division) of the cases its tasks served.

The aggregates are kept by the recording hooks and never refilled at start (``rebuild`` is
an operator's repair), so the upgrade keeps every existing figure instead of emptying the
tables: each table is read, recreated with the new key and written back with the default
division (``ONETHING_DEFAULT_DIVISION``, else 310000, as ``0008_regions`` gave every existing
task). That is exactly what a rebuild would compute: before regions every task was handled,
and every case decided, at the default division. ``office_rating_stats`` is filled from the
ratings and the offices that completed each rated case's tasks, as a rebuild attributes
them. The downgrade adds each key's rows of all divisions back together.

Revision ID: 0009_analytics_divisions
Revises: 0008_regions
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from engine.storage.models import UtcDateTime

revision: str = "0009_analytics_divisions"
down_revision: str | Sequence[str] | None = "0008_regions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _default_division() -> str:
    """The division existing aggregates count for: the configured default (checked as Settings does)."""
    code = os.environ.get("ONETHING_DEFAULT_DIVISION", "310000").strip()
    if not re.fullmatch(r"[0-9]{6}|[0-9]{9}|[0-9]{12}", code):
        raise ValueError(f"ONETHING_DEFAULT_DIVISION {code!r} is not a 6, 9 or 12 digit division code")
    return code


def _division() -> sa.Column[str]:
    return sa.Column("division", sa.String(length=12), nullable=False)


def _task_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("task_name", sa.String(length=128), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("wait_sum", sa.Float(), nullable=False),
        sa.Column("work_sum", sa.Float(), nullable=False),
        sa.Column("wait_sketch", JSON, nullable=False),
        sa.Column("work_sketch", JSON, nullable=False),
        sa.Column("problems", JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    ]


def _case_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("working_sum", sa.Float(), nullable=False),
        sa.Column("steps_sum", sa.Integer(), nullable=False),
        sa.Column("materials_sum", sa.Integer(), nullable=False),
        sa.Column("duration_sketch", JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    ]


def _period_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("tasks_completed", sa.Integer(), nullable=False),
        sa.Column("tasks_overdue", sa.Integer(), nullable=False),
        sa.Column("tasks_returned", sa.Integer(), nullable=False),
        sa.Column("went_overdue", sa.Integer(), nullable=False),
        sa.Column("wait_sum", sa.Float(), nullable=False),
        sa.Column("work_sum", sa.Float(), nullable=False),
        sa.Column("cases_completed", sa.Integer(), nullable=False),
        sa.Column("case_working_sum", sa.Float(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("ratings_bad", sa.Integer(), nullable=False),
        sa.Column("complaints", sa.Integer(), nullable=False),
    ]


def _rating_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("bundle_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        *(sa.Column(f"s{n}", sa.Integer(), nullable=False) for n in range(1, 6)),
    ]


# table -> (its columns without the division, its key without the division)
TABLES: dict[str, tuple[Callable[[], list[sa.Column[Any]]], tuple[str, ...]]] = {
    "task_stats": (_task_columns, ("bundle_key", "version", "item_key", "department")),
    "case_stats": (_case_columns, ("bundle_key", "version")),
    "period_stats": (_period_columns, ("day", "bundle_key", "department")),
    "rating_stats": (_rating_columns, ("bundle_key", "version", "department")),
}


def _read(name: str) -> list[dict[str, Any]]:
    """Every row of a table, as Python values (JSON decoded, times UTC-aware), read through reflection."""
    bind = op.get_bind()
    table = sa.Table(name, sa.MetaData(), autoload_with=bind)
    return [
        {
            k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
            for k, v in row.items()
        }
        for row in (dict(r._mapping) for r in bind.execute(sa.select(table)))
    ]


def _recreate(name: str, key: tuple[str, ...], with_division: bool) -> sa.Table:
    """Drop the table and create it again with ``key`` (and the division) as its primary key."""
    if name == "period_stats":
        op.drop_index("ix_period_stats_bundle", table_name=name)
    op.drop_table(name)
    columns, _ = TABLES[name]
    table = op.create_table(
        name,
        *columns()[: len(key)],
        *([_division()] if with_division else []),
        *columns()[len(key) :],
        sa.PrimaryKeyConstraint(*key, *(("division",) if with_division else ())),
    )
    if name == "period_stats":
        op.create_index("ix_period_stats_bundle", name, ["bundle_key", "day"], unique=False)
    assert table is not None
    return table


def upgrade() -> None:
    default = _default_division()
    for name, (_, key) in TABLES.items():
        rows = _read(name)
        table = _recreate(name, key, with_division=True)
        if rows:
            op.bulk_insert(table, [{**row, "division": default} for row in rows])
    op.create_table(
        "office_rating_stats",
        *_rating_columns()[:3],
        _division(),
        *_rating_columns()[3:],
        sa.PrimaryKeyConstraint("bundle_key", "version", "department", "division"),
    )
    # A rating counts for each office that completed a task of its case (of its department
    # only when it names one): engine.analytics.rows.OfficeRatingStats.
    op.execute(
        "INSERT INTO office_rating_stats (bundle_key, version, department, division, s1, s2, s3, s4, s5) "
        "SELECT r.bundle_key, r.version, w.department, w.division, "
        "SUM(CASE WHEN r.score = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN r.score = 2 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN r.score = 3 THEN 1 ELSE 0 END), SUM(CASE WHEN r.score = 4 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN r.score = 5 THEN 1 ELSE 0 END) "
        "FROM ratings r JOIN (SELECT DISTINCT case_id, department, division FROM work_items "
        "WHERE state = 'completed') w ON w.case_id = r.case_id "
        "AND (r.department = '' OR w.department = r.department) "
        "GROUP BY r.bundle_key, r.version, w.department, w.division"
    )


def _merged(a: Any, b: Any, column: str) -> Any:
    """Two rows' values of one column added together (counts, sums, sketches, problems)."""
    if column == "task_name":
        return a or b
    if column == "updated_at":
        return max(a, b)
    if isinstance(a, dict):
        out = dict(a)
        for k, v in b.items():
            if isinstance(v, dict):  # problems: {where: {count, message}}
                entry = dict(out.get(k, {"count": 0, "message": ""}))
                entry["count"] = int(entry.get("count", 0)) + int(v.get("count", 0))
                entry["message"] = v.get("message") or entry.get("message", "")
                out[k] = entry
            else:  # a sketch: {bucket: count}
                out[k] = int(out.get(k, 0)) + int(v)
        return out
    return a + b


def downgrade() -> None:
    op.drop_table("office_rating_stats")
    for name, (_, key) in TABLES.items():
        merged: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in _read(name):
            row.pop("division")
            k = tuple(row[c] for c in key)
            if k in merged:
                into = merged[k]
                for column, value in row.items():
                    if column not in key:
                        into[column] = _merged(into[column], value, column)
            else:
                merged[k] = row
        table = _recreate(name, key, with_division=False)
        if merged:
            op.bulk_insert(table, list(merged.values()))
