"""Races and crashes: one winner per claim, no lost updates, consistency after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.cases.states import Outcome
from engine.errors import AlreadyClaimed
from engine.service import Engine
from engine.storage.models import Case, CaseEvent, WorkItem
from tests.support.engines import (
    ANALYST,
    MINI_STARTUP_DECISIONS,
    bundle_engine,
    clerk,
    make_engine,
    start_mini_startup,
    work_all,
)

ROOT = Path(__file__).resolve().parents[2]
DECISIONS = MINI_STARTUP_DECISIONS


def test_fifty_concurrent_claims_of_one_task_have_exactly_one_winner(db_url: str, tmp_path: Path) -> None:
    engine = bundle_engine(db_url, tmp_path, "mini-startup")
    task = engine.get_case(ANALYST, start_mini_startup(engine)).tasks[0]
    barrier = threading.Barrier(50)

    def claim(n: int) -> str:
        barrier.wait()
        try:
            engine.claim(clerk("market-regulation", f"clerk{n}"), task.id)
            return "won"
        except AlreadyClaimed:
            return "lost"

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(claim, range(50)))
    assert results.count("won") == 1 and results.count("lost") == 49
    with engine.db.read() as s:
        claims = s.scalars(select(CaseEvent).where(CaseEvent.kind == "claimed")).all()
    assert len(claims) == 1
    engine.close()


def _complete_in_process(
    db_url: str, data_dir: str, task_id: int, item: str, department: str, go_at: float
) -> None:
    code = (
        "import time, sys\n"
        "from pathlib import Path\n"
        "from engine.service import Engine\nfrom engine.storage.settings import Settings\n"
        "from engine.cases.states import Outcome\nfrom tests.support.engines import clerk\n"
        f"e = Engine(Settings(database_url={db_url!r}, data_dir=Path({data_dir!r})))\n"
        f"c = clerk({department!r})\n"
        f"e.claim(c, {task_id})\n"
        f"time.sleep(max(0, {go_at} - time.time()))\n"
        f"e.complete(c, {task_id}, Outcome.APPROVE, {DECISIONS.get(item, {})!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_two_processes_completing_parallel_tasks_of_one_case_lose_nothing(
    db_url: str, tmp_path: Path
) -> None:
    engine = bundle_engine(db_url, tmp_path, "mini-startup")
    case_id = start_mini_startup(engine)
    reg = engine.get_case(ANALYST, case_id).tasks[0]
    engine.claim(clerk("market-regulation"), reg.id)
    engine.complete(clerk("market-regulation"), reg.id, Outcome.APPROVE, DECISIONS["business-registration"])
    parallel = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready"]
    assert len(parallel) == 2
    go_at = time.time() + 4
    threads = [
        threading.Thread(
            target=_complete_in_process,
            args=(db_url, str(tmp_path / "var"), t.id, t.item, t.department, go_at),
        )
        for t in parallel
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = engine.get_case(ANALYST, case_id)
    assert final.status == "completed", [(t.item, t.state) for t in final.tasks]
    assert sorted(e.kind for e in final.timeline).count("approved") == 3
    engine.close()


def _consistent(engine: Engine) -> list[int]:
    """Check every case: workflow state, task rows and audit trail agree. Returns running case ids."""
    running = []
    with engine.db.read() as s:
        cases = s.scalars(select(Case)).all()
        for case in cases:
            oc_def = engine.deployments.definition(engine.deployments.row(s, case.deployment_id))
            wf = engine.store.codec.loads(case.state, oc_def.spec, oc_def.subprocess_specs)
            ready = {t.spiff_id for t in engine.runner.ready_tasks(wf)}
            items = s.scalars(select(WorkItem).where(WorkItem.case_id == case.id)).all()
            events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
            open_ids = {w.spiff_id for w in items if w.state in ("ready", "claimed")}
            assert open_ids == ready, f"case {case.id}: rows {open_ids} != workflow {ready}"
            kinds = [e.kind for e in events]
            assert kinds.count("task_created") == len(items)
            assert kinds.count("approved") == len([w for w in items if w.outcome == "approve"])
            assert kinds[0] == "submitted"
            assert (case.status == "completed") == engine.runner.is_completed(wf)
            if case.status == "running":
                running.append(case.id)
    return running


def _wait_for_cases(engine: Engine, count: int, timeout: float = 60.0) -> None:
    """Until the database holds ``count`` cases (the churn process is working by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.db.read() as s:
            if len(s.scalars(select(Case.id)).all()) >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"the churn process wrote fewer than {count} cases in {timeout:.0f}s")


@pytest.mark.slow
def test_killing_a_process_mid_work_leaves_every_case_consistent_and_workable(
    db_url: str, tmp_path: Path
) -> None:
    engine = bundle_engine(db_url, tmp_path, "mini-startup")
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.churn", db_url, str(tmp_path / "var")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        # Kill mid-work: once this run has written a case of its own, at a varying moment.
        _wait_for_cases(engine, attempt + 1)
        time.sleep(0.2 + 0.37 * attempt)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    fresh = make_engine(engine.db.url, tmp_path)
    running = _consistent(fresh)
    with fresh.db.read() as s:
        assert len(s.scalars(select(Case.id)).all()) >= 3
    for case_id in running:
        # a claim held by the killed process is released by its clerk, then the case goes on
        for task in fresh.get_case(ANALYST, case_id).tasks:
            if task.state == "claimed":
                fresh.unclaim(clerk(task.department, task.assignee), task.id)
        work_all(fresh, case_id, DECISIONS)
        assert fresh.get_case(ANALYST, case_id).status == "completed"
    assert _consistent(fresh) == []
    fresh.close()
    engine.close()
