"""The aggregate rows every completion of an item shares are never locked by the completion.

A task's completion counts in ``task_stats`` (one row per bundle, item and office) and a
finished case in ``case_stats``: rows every case of the bundle writes. The action only queues
what it counts for (``engine.analytics.projection``), so while it runs, up to its commit,
another server process can complete the same item; the queued fact still commits, or rolls
back, with the action, and is counted once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.analytics import projection
from engine.analytics.deferred import later
from engine.analytics.rows import TaskStats
from engine.cases.events import TaskApproved
from engine.service import Engine
from tests.support.engines import APPLICANT, TEST_BUNDLES, clerk, make_engine

TWO_DESKS = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}
MARKET = clerk("market-regulation")


def two_desks(db_url: str, tmp_path: Path) -> Engine:
    engine = make_engine(db_url, tmp_path)
    engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
    return engine


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = two_desks(db_url, tmp_path)
    yield engine
    engine.close()


@pytest.fixture
def pg_engine(pg_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = two_desks(pg_url, tmp_path)
    yield engine
    engine.close()


def review_of(engine: Engine) -> int:
    case_id = engine.start_case(APPLICANT, "two-desks", TWO_DESKS, {}).id
    task = engine.get_case(MARKET, case_id).tasks[0]
    engine.claim(MARKET, task.id)
    return task.id


def reviews_counted(engine: Engine) -> int:
    projection.catch_up(engine.db)
    with engine.db.read() as s:
        return int(s.scalar(select(TaskStats.finished).where(TaskStats.item_key == "review")) or 0)


class Probe(Exception):
    """Raised by the probe to roll a completion back."""


@pytest.mark.postgres
def test_up_to_its_commit_a_completion_leaves_its_items_aggregate_row_unlocked(pg_engine: Engine) -> None:
    engine = pg_engine
    engine.complete(MARKET, review_of(engine), "approve", {}, "同意")  # the row exists from now on
    assert reviews_counted(engine) == 1
    other = create_engine(engine.settings.database_url)
    seen: list[str] = []

    def look(_session: Session, _event: TaskApproved) -> None:
        # Another process, while the approval's transaction is still open: after its event, and
        # again as its last work before the commit (after the analytics hook's own).
        probe()
        later(_session, probe)

    def probe() -> None:
        with other.connect() as conn:
            conn.execute(text("SET lock_timeout = '200ms'"))
            try:
                conn.execute(
                    select(TaskStats.finished)
                    .where(TaskStats.item_key == "review")
                    .with_for_update(nowait=True)
                ).all()
                seen.append("free")
            except OperationalError:
                seen.append("locked")
            conn.rollback()

    engine.db.spine.subscribe("test.probe", look, TaskApproved)
    try:
        engine.complete(MARKET, review_of(engine), "approve", {}, "同意")
    finally:
        engine.db.spine.unsubscribe("test.probe")
        other.dispose()
    assert seen == ["free", "free"]
    assert reviews_counted(engine) == 2  # and the count committed with the approval


def test_a_completion_that_rolls_back_counts_nothing(engine: Engine) -> None:
    engine.complete(MARKET, review_of(engine), "approve", {}, "同意")
    task = review_of(engine)

    def fail(session: Session, _event: TaskApproved) -> None:
        later(session, stop)  # after the analytics hook has queued the completion

    def stop() -> None:
        raise Probe("the action fails after its completion was queued")

    engine.db.spine.subscribe("test.fail", fail, TaskApproved)
    try:
        with pytest.raises(Probe):
            engine.complete(MARKET, task, "approve", {}, "同意")
    finally:
        engine.db.spine.unsubscribe("test.fail")
    assert reviews_counted(engine) == 1
    engine.complete(MARKET, task, "approve", {}, "同意")  # the retry counts once
    assert reviews_counted(engine) == 2
