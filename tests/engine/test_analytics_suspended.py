"""Analytics count suspended cases (挂起), SQLite and PostgreSQL: per bundle and per department, now
and ever, with their suspended working time (total and mean, a running suspension up to now), and
a finished case's duration leaves its suspended time out (as the task waits already do), also after
a rebuild from the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.analytics import queries, rebuild
from engine.analytics.views import ReductionRow
from engine.time.calendar import SECONDS_PER_DAY
from tests.engine.test_suspension import BASIS, MARKET_SUPERVISOR, REASON, beijing, two_desks
from tests.support.engines import APPLICANT, work_all

DATA = {"company_name": "乙公司", "legal_rep_name": "李四"}


def test_suspended_cases_and_time_per_bundle_and_department(db_url: str, tmp_path: Path) -> None:
    engine, clock, first = two_desks(db_url, tmp_path)  # applied Monday 09:00
    clock.set(beijing(3, 3, 10))
    engine.suspend(MARKET_SUPERVISOR, first, REASON, BASIS)
    clock.set(beijing(3, 5, 10))
    resumed = engine.resume(MARKET_SUPERVISOR, first)
    done_seconds = resumed.suspensions[0].working_seconds
    assert done_seconds > 0
    clock.set(beijing(3, 5, 11))
    second = engine.start_case(APPLICANT, "two-desks", DATA, {}).id
    engine.start_case(APPLICANT, "two-desks", DATA, {})  # never suspended
    work_all(engine, first)
    clock.set(beijing(3, 5, 12))
    engine.suspend(MARKET_SUPERVISOR, second, REASON, BASIS)
    clock.set(beijing(3, 5, 15))
    now = clock.now()
    running_seconds = engine.calendar.working_time_between(beijing(3, 5, 12), now).total_seconds()
    total = done_seconds + running_seconds

    def reduction() -> ReductionRow:
        (row,) = [
            r
            for r in queries.reductions(engine.db, engine.deployments, calendar=engine.calendar, now=now)
            if r.bundle == "two-desks"
        ]
        return row

    row = reduction()
    assert (row.suspended_now, row.suspended_cases) == (1, 2)
    assert row.suspended_seconds == pytest.approx(total)
    assert row.suspended_mean_seconds == pytest.approx(total / 2)
    # The finished case's days leave its suspension out: Monday 09:00 to Wednesday 11:00, less it.
    elapsed = engine.calendar.working_time_between(beijing(3, 3, 9), beijing(3, 5, 11)).total_seconds()
    expected_days = (elapsed - done_seconds) / SECONDS_PER_DAY
    assert row.real is not None and row.real.days == pytest.approx(expected_days)
    departments = {
        r.department: r
        for r in queries.by_department(engine.db, "two-desks", calendar=engine.calendar, now=now)
    }
    market = departments["market-regulation"]
    assert (market.suspended_now, market.suspended_cases) == (1, 2)
    assert market.suspended_seconds == pytest.approx(total)
    tax = departments["tax"]  # its check was never open while a case was suspended
    assert (tax.suspended_now, tax.suspended_cases, tax.suspended_seconds) == (0, 0, 0.0)
    # Without the clock, the older callers' rows stay as they were (zeros).
    (plain,) = [r for r in queries.reductions(engine.db, engine.deployments) if r.bundle == "two-desks"]
    assert plain.suspended_cases == 0 and plain.suspended_mean_seconds is None
    rebuild.rebuild(engine.db, engine.calendar)
    again = reduction()
    assert again.real is not None and again.real.days == pytest.approx(expected_days)
    assert again.suspended_cases == 2
    engine.close()
