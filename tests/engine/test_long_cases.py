"""A long case (200 task actions on one sequential multi-instance step) stays linear.

SpiffWorkflow keeps every finished task in the tree it saves, so the stored state grows with
the case's history; it must grow by about the same bytes per action throughout, never
faster as the case gets older. The case also runs to its end through evictions: with no
workflow cache every action restores the whole tree from the database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.cases.states import CaseStatus, Outcome
from engine.service import Engine
from engine.storage.models import Case, WorkItem
from tests.support.engines import APPLICANT, TEST_BUNDLES, make_engine
from tests.support.long_cases import BUNDLE, DATA, DESK, ENTRIES, ready_task, state_bytes


def act(engine: Engine, case_id: int) -> None:
    """Claim and approve the case's one ready task."""
    task_id = ready_task(engine, case_id)
    engine.claim(DESK, task_id)
    engine.complete(DESK, task_id, "approve", {}, "核对无误")


@pytest.mark.parametrize("cache_size", [256, 0], ids=["warm", "restored-every-action"])
def test_a_long_cases_state_grows_linearly_and_the_case_runs_to_its_end(
    db_url: str, tmp_path: Path, cache_size: int
) -> None:
    engine = make_engine(db_url, tmp_path, workflow_cache_size=cache_size)
    try:
        engine.deployments.deploy_dir(TEST_BUNDLES / BUNDLE)
        case_id = engine.start_case(APPLICANT, BUNDLE, DATA, {}).id
        sizes = {0: state_bytes(engine, case_id)}
        for n in range(1, ENTRIES + 1):
            act(engine, case_id)
            if n in (100, ENTRIES):
                sizes[n] = state_bytes(engine, case_id)
        first, second = sizes[100] - sizes[0], sizes[ENTRIES] - sizes[100]
        assert first > 0
        assert second <= 1.2 * first, sizes
        with engine.db.read() as s:
            case = s.get(Case, case_id)
            assert case is not None and case.status == CaseStatus.COMPLETED
            approved = s.scalar(
                select(func.count())
                .select_from(WorkItem)
                .where(WorkItem.case_id == case_id, WorkItem.outcome == Outcome.APPROVE)
            )
            assert approved == ENTRIES
    finally:
        engine.close()
