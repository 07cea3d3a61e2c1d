"""The workflow cache: handed out only at its version and once, bounded in entries and in bytes.

A case the cache evicted is restored from the database on its next action and advances as
if it had stayed warm.
"""

from __future__ import annotations

from pathlib import Path

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select

from engine.cases.states import CaseStatus, WorkItemState
from engine.cases.workflow_cache import LIVE_BYTES_PER_CHAR, WorkflowCache, accounted_size
from engine.service import Engine
from engine.storage.models import Case, WorkItem
from tests.support.engines import APPLICANT, TEST_BUNDLES, clerk, make_engine

TWO_DESKS = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}


def workflow() -> BpmnWorkflow:
    """A stand-in the cache only holds and hands back (it never looks inside)."""
    return object()


def test_the_cache_hands_a_workflow_out_only_at_its_version_and_only_once() -> None:
    cache = WorkflowCache(4, 1000)
    first, second = workflow(), workflow()
    cache.put(1, 3, first, 10)
    assert cache.take(1, 2) is None
    assert cache.take(1, 3) is None  # a stale look-up took the entry out
    cache.put(1, 3, first, 10)
    taken = cache.take(1, 3)
    assert taken is not None and taken.workflow is first and taken.size == 10
    assert cache.take(1, 3) is None  # the caller owns it now
    cache.put(2, 1, second, 10)
    cache.forget(2)
    assert cache.take(2, 1) is None
    cache.forget(99)  # forgetting what is not there is no error
    assert cache.accounted_bytes == 0 and len(cache) == 0


def test_the_cache_keeps_the_most_recently_used_workflows() -> None:
    cache = WorkflowCache(2, 1000)
    a, b, c = workflow(), workflow(), workflow()
    cache.put(1, 1, a, 1)
    cache.put(2, 1, b, 1)
    cache.put(1, 2, a, 1)  # case 1 used again: case 2 is now the oldest
    cache.put(3, 1, c, 1)
    assert cache.take(2, 1) is None
    assert (one := cache.take(1, 2)) is not None and one.workflow is a
    assert (three := cache.take(3, 1)) is not None and three.workflow is c


def test_a_cache_of_size_zero_keeps_nothing_and_of_size_one_the_last() -> None:
    cache = WorkflowCache(0, 1000)
    cache.put(1, 1, workflow(), 1)
    assert cache.take(1, 1) is None and cache.accounted_bytes == 0
    one, a, b = WorkflowCache(1, 1000), workflow(), workflow()
    one.put(1, 1, a, 1)
    assert (found := one.take(1, 1)) is not None and found.workflow is a
    one.put(1, 1, a, 1)
    one.put(2, 1, b, 1)
    assert one.take(1, 1) is None
    assert (found := one.take(2, 1)) is not None and found.workflow is b


def test_the_oldest_workflows_leave_until_the_bytes_fit() -> None:
    cache = WorkflowCache(100, 100)
    a, b, c = workflow(), workflow(), workflow()
    cache.put(1, 1, a, 40)
    cache.put(2, 1, b, 40)
    assert cache.accounted_bytes == 80
    cache.put(3, 1, c, 50)  # 130 > 100: case 1, the oldest, leaves; 90 fit
    assert cache.accounted_bytes == 90 and len(cache) == 2
    assert cache.take(1, 1) is None
    assert (two := cache.take(2, 1)) is not None and two.workflow is b
    assert cache.accounted_bytes == 50  # taking an entry out takes its bytes out


def test_a_workflow_larger_than_the_whole_bound_is_not_kept_and_drops_its_stale_entry() -> None:
    cache = WorkflowCache(100, 100)
    small = workflow()
    cache.put(1, 1, small, 30)
    cache.put(2, 1, workflow(), 10)
    cache.put(1, 2, workflow(), 101)  # case 1 grew past the bound: nothing of it stays
    assert cache.accounted_bytes == 10 and len(cache) == 1
    assert cache.take(1, 1) is None and cache.take(1, 2) is None
    assert cache.take(2, 1) is not None


def test_many_puts_never_hold_more_than_the_bound() -> None:
    cache = WorkflowCache(1000, 5000)
    held: dict[int, int] = {}
    for case_id in range(2000):
        size = 1 + (case_id * 7919) % 900
        cache.put(case_id % 300, case_id, workflow(), size)
        held[case_id % 300] = size
        assert cache.accounted_bytes <= 5000
    # What it accounts is exactly what it holds.
    total = 0
    for case_id in range(300):
        found = cache.take(case_id, max(v for v in range(2000) if v % 300 == case_id))
        if found is not None:
            assert found.size == held[case_id]
            total += found.size
    assert total > 0 and cache.accounted_bytes == 0


def test_a_workflow_is_accounted_from_its_saved_state(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    try:
        engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
        case_id = engine.start_case(APPLICANT, "two-desks", TWO_DESKS, {}).id
        with engine.db.read() as s:
            case = s.get(Case, case_id)
            assert case is not None
            state, version = case.state, case.state_version
        assert engine.store.cache.accounted_bytes == accounted_size(len(state))
        assert accounted_size(len(state)) == LIVE_BYTES_PER_CHAR * len(state)
        found = engine.store.cache.take(case_id, version)
        assert found is not None and found.size == accounted_size(len(state))
    finally:
        engine.close()


def _open_task(engine: Engine, case_id: int) -> int | None:
    with engine.db.read() as s:
        return s.scalars(
            select(WorkItem.id).where(WorkItem.case_id == case_id, WorkItem.state == WorkItemState.READY)
        ).first()


def test_many_cases_stay_within_the_byte_bound_and_evicted_ones_advance_from_the_database(
    db_url: str, tmp_path: Path
) -> None:
    # Room for about three workflows of this bundle (each about 3 KB of state, so 18 KB accounted).
    bound = 60_000
    engine = make_engine(db_url, tmp_path, workflow_cache_bytes=bound)
    try:
        engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
        cases = []
        for _ in range(12):
            cases.append(engine.start_case(APPLICANT, "two-desks", TWO_DESKS, {}).id)
            assert engine.store.cache.accounted_bytes <= bound
        assert 1 <= len(engine.store.cache) < 12
        with engine.db.read() as s:
            first = s.get(Case, cases[0])
            assert first is not None
            first_version = first.state_version
        assert engine.store.cache.take(cases[0], first_version) is None  # evicted long ago
        # Every case, evicted or warm, is worked to its end: review, then the tax check.
        desks = {"review": clerk("market-regulation"), "tax-check": clerk("tax")}
        for case_id in cases:
            done = []
            while (task_id := _open_task(engine, case_id)) is not None:
                with engine.db.read() as s:
                    row = s.get(WorkItem, task_id)
                    assert row is not None
                    item = row.item_key
                engine.claim(desks[item], task_id)
                engine.complete(desks[item], task_id, "approve", {}, "同意")
                done.append(item)
                assert engine.store.cache.accounted_bytes <= bound
            assert done == ["review", "tax-check"]
            with engine.db.read() as s:
                case = s.get(Case, case_id)
                assert case is not None and case.status == CaseStatus.COMPLETED
    finally:
        engine.close()
