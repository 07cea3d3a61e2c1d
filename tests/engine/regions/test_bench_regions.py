"""The regions benchmark still runs and times the right page (``make bench`` is not in ``make test``).

On a small population: the page the bench times is exactly the district clerk's open
market-regulation tasks by due time (checked against the rows filtered in Python), and the
database answers it from the office's index (``ix_work_items_office_open`` on PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.cases.states import OPEN_WORK_STATES
from engine.storage.models import WorkItem
from tests.bench import bench_regions


def test_the_bench_page_is_the_district_clerks_queue_from_the_office_index(
    db_url: str, tmp_path: Path
) -> None:
    engine = bench_regions.prepare(db_url, tmp_path / "var", rows=8_000, districts=10, cases=50)
    try:
        with engine.db.read() as s:
            rows = s.scalars(select(WorkItem)).all()
        assert len(rows) == 8_000 and len({r.division for r in rows}) == 10
        # Every district gets every item alike: the timed office's share is the bundle's.
        in_district = [r for r in rows if r.division == bench_regions.TIMED_DISTRICT]
        share = sum(r.department == bench_regions.DEPARTMENT for r in in_district) / len(in_district)
        with engine.db.read() as s:
            deployment = engine.deployments.latest(s, "enterprise-startup")
        items = engine.deployments.definition(deployment).manifest.items
        assert share == sum(i.department == bench_regions.DEPARTMENT for i in items) / len(items)
        expected = sorted(
            (
                r
                for r in rows
                if r.department == bench_regions.DEPARTMENT
                and r.division == bench_regions.TIMED_DISTRICT
                and r.state in OPEN_WORK_STATES
            ),
            key=lambda r: (r.due_at, r.id),
        )[: bench_regions.PAGE]
        page = bench_regions.first_page(engine)
        assert [t.id for t in page] == [r.id for r in expected] and len(page) > 10
        assert [r.id for r in bench_regions.bare_page(engine)][: len(page)] == [t.id for t in page]
        assert bench_regions.first_page(engine, "330106") != page  # another district's queue
        plan = bench_regions.query_plan(engine)
        # PostgreSQL reads the open tasks' partial index in due order (a page of rows, no sort);
        # SQLite the office index (its bound states cannot prove the partial index's WHERE).
        index = "ix_work_items_office" if engine.db.is_sqlite else "ix_work_items_office_open"
        assert f"{index} " in plan and ("TEMP B-TREE" in plan) == engine.db.is_sqlite, plan
        assert bench_regions.office_backlog(engine) == len(
            [
                r
                for r in in_district
                if r.department == bench_regions.DEPARTMENT and r.state in OPEN_WORK_STATES
            ]
        )
        timed = bench_regions.paired_medians({"page": lambda: bench_regions.first_page(engine)}, 3, 1)
        assert timed["page"] > 0
    finally:
        engine.close()
