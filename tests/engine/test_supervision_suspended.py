"""The supervision desk's suspended cases (挂起办件), SQLite and PostgreSQL: a supervisor reads the
suspended cases of the offices they supervise (reason, legal basis, since, who), longest first,
and may resume those whose office they supervise; others' cases and running ones are not listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import NotAllowed
from engine.feedback import supervising
from tests.engine.test_suspension import (
    ADMIN,
    BASIS,
    MARKET_SUPERVISOR,
    REASON,
    TAX_SUPERVISOR,
    beijing,
    two_desks,
)
from tests.support.engines import ANALYST, APPLICANT


def test_the_desk_lists_the_suspended_cases_of_ones_offices(db_url: str, tmp_path: Path) -> None:
    engine, clock, first = two_desks(db_url, tmp_path)
    second = engine.start_case(
        APPLICANT, "two-desks", {"company_name": "乙公司", "legal_rep_name": "李四"}, {}
    ).id
    running = engine.start_case(
        APPLICANT, "two-desks", {"company_name": "丙公司", "legal_rep_name": "王五"}, {}
    ).id
    clock.set(beijing(3, 3, 11))
    engine.suspend(ADMIN, second, "专家评审", "《行政许可法》第四十五条")
    clock.set(beijing(3, 3, 14))
    engine.suspend(MARKET_SUPERVISOR, first, REASON, BASIS)

    def listed(actor: object, **narrow: str) -> list[supervising.SupervisedSuspension]:
        return supervising.suspended(engine.db, actor, regions=engine.regions, **narrow)  # type: ignore[arg-type]

    found = listed(MARKET_SUPERVISOR)
    assert [s.case_id for s in found] == [second, first]  # the longest suspended first
    assert running not in {s.case_id for s in found}
    one = found[1]
    assert (one.bundle, one.departments) == ("two-desks", ("market-regulation",))
    assert (one.suspension.reason, one.suspension.legal_basis) == (REASON, BASIS)
    assert one.suspension.suspended_at == beijing(3, 3, 14) and one.suspension.suspended_by == "chief.market"
    assert found[0].suspension.suspended_by == "admin"
    assert all(s.may_resume for s in found)
    assert [s.may_resume for s in listed(ADMIN)] == [True, True]
    assert listed(TAX_SUPERVISOR) == []  # no task of these cases at the tax office
    assert listed(ADMIN, department="tax") == []
    assert [s.may_resume for s in listed(ANALYST)] == [False, False]  # reads, never resumes
    for s in found:
        assert s.may_resume == engine.may_suspend(MARKET_SUPERVISOR, s.case_id)
    with pytest.raises(NotAllowed):
        listed(APPLICANT)
    engine.resume(MARKET_SUPERVISOR, first)
    assert [s.case_id for s in listed(MARKET_SUPERVISOR)] == [second]
    engine.close()
