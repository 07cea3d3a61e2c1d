"""A district's queue stays indexed: its first page at 1,000,000 tasks over 100 districts vs 10,000 in one.

Two databases per backend (SQLite file; PostgreSQL in a throwaway cluster, skipped with the
reason when the server binaries are missing): the baseline holds one district's 10,000
tasks; the large one holds 1,000,000 tasks spread evenly over 100 districts (浙江省's 90
counties and ten of 上海市's districts), so the timed district has the same 10,000 tasks in
both. Tasks are the shipped enterprise-startup bundle's items in their departments, a
quarter ready, a tenth claimed, the rest completed, due over a few months; rows are written
with Core executemany with the task indexes dropped, which are then built again (the same
indexes the migrations make), and the statistics are refreshed.

Timed: ``Engine.list_tasks`` of a market-regulation clerk of that district (its office's
open tasks by due time, 50 a page: the engine's own queue path, views included), and the
bare queue statement: the median of repeated calls after a warm-up, the two sizes called in
turn so that the machine's other load weighs on both alike. Printed: the medians at each
size, the ratio large / baseline (the target is at most 1.5), and the plans.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import false, insert, literal_column, text

from engine.cases.queues import _queue_select
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import Case, WorkItem, table_of
from engine.storage.settings import Settings, shipped_processes_dir
from tests.support.pg import find_pg_bin, start_cluster

Report = Callable[[str, float, str], None]
LARGE_ROWS = 1_000_000
BASELINE_ROWS = 10_000
DISTRICTS = 100
TIMED_DISTRICT = "330102"  # 杭州市上城区
DEPARTMENT = "market-regulation"
CASES = 2_000  # work items point at real case rows (foreign key)
BATCH = 20_000
REPEATS = 200
WARM_UP = 20
PAGE = 50
BUNDLE = shipped_processes_dir() / "enterprise-startup"
START = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


def clerk_of(division: str) -> Actor:
    """A market-regulation clerk of the office at ``division``."""
    return Actor(f"clerk.{DEPARTMENT}@{division}", Role.CLERK, frozenset({DEPARTMENT}), division=division)


def district_codes(engine: Engine, count: int = DISTRICTS) -> list[str]:
    """``count`` county-level codes from the shipped tree, the timed district first."""
    tree = engine.regions.tree()
    counties = [c for city in tree.children("330000") for c in tree.children(city)]
    codes = [TIMED_DISTRICT] + [c for c in counties + list(tree.children("310000")) if c != TIMED_DISTRICT]
    if len(codes) < count:
        raise RuntimeError(f"the shipped tree has {len(codes)} districts, fewer than {count}")
    return codes[:count]


def prepare(url: str, data_dir: Path, rows: int, districts: int, cases: int = CASES) -> Engine:
    """An engine on a fresh database with ``rows`` tasks spread evenly over ``districts`` districts."""
    engine = Engine(Settings(database_url=url, data_dir=data_dir))
    engine.upgrade()
    engine.regions.load_shipped(shipped_processes_dir() / "divisions")
    deployed = engine.deployments.deploy_dir(BUNDLE)
    with engine.db.read() as s:
        deployment_id = int(
            s.execute(
                text("SELECT id FROM deployments WHERE key = :k AND version = :v"),
                {"k": deployed.key, "v": deployed.version},
            ).scalar_one()
        )
        row = engine.deployments.row(s, deployment_id)
    items = [(i.key, i.department) for i in engine.deployments.definition(row).manifest.items]
    codes = district_codes(engine, districts)
    with engine.db.engine.begin() as conn:
        conn.execute(
            insert(table_of(Case)),
            [
                {
                    "id": n + 1, "deployment_id": deployment_id, "bundle_key": deployed.key,
                    "version": deployed.version, "applicant": f"bench-{n}", "status": "in_progress",
                    "data": {}, "materials": {}, "pending_materials": {}, "outputs": {}, "round": 1,
                    "state": "{}", "state_version": 1, "created_at": START, "updated_at": START,
                    "division": codes[n % len(codes)],
                }
                for n in range(cases)
            ],
        )  # fmt: skip
    rng = random.Random(15)
    work_items = table_of(WorkItem)
    # Indexes are dropped for the load and built again after (a bulk load's usual way): the
    # timed queries see the very indexes the migrations made.
    indexes = sorted(work_items.indexes, key=lambda index: str(index.name))
    with engine.db.engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    # Columns equal on every row are SQL constants: no per-row parameter processing.
    constants = insert(work_items).values(
        decision=literal_column("'{}'"), problems=literal_column("'[]'"), comment=literal_column("''"),
        manual_reason=literal_column("''"), kind=literal_column("'human'"), priority=literal_column("0"),
        round=literal_column("1"), overdue=false(),
    )  # fmt: skip
    for first in range(0, rows, BATCH):
        batch = []
        for n in range(first, min(first + BATCH, rows)):
            # Each district gets every item in turn (n % 100 picks the district, the quotient the item).
            item, department = items[(n // len(codes)) % len(items)]
            roll = rng.random()
            state = "ready" if roll < 0.25 else "claimed" if roll < 0.35 else "completed"
            batch.append(
                {
                    "case_id": n % cases + 1, "deployment_id": deployment_id, "bundle_key": deployed.key,
                    "item_key": item, "task_name": item, "spiff_id": f"{n:036d}", "department": department,
                    "division": codes[n % len(codes)], "state": state,
                    "assignee": f"clerk.{department}" if state != "ready" else None,
                    "created_at": START, "due_at": START + timedelta(minutes=rng.randrange(200_000)),
                    "outcome": "approve" if state == "completed" else None,
                }
            )  # fmt: skip
        with engine.db.engine.begin() as conn:
            conn.execute(constants, batch)
    with engine.db.engine.begin() as conn:
        for index in indexes:
            index.create(conn)
    # Fresh statistics; on PostgreSQL also the vacuum a bulk load is followed by, so that
    # autovacuum does not start on the new rows while the queries are timed.
    with engine.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE" if engine.db.is_sqlite else "VACUUM ANALYZE"))
    return engine


def paired_medians(
    calls: dict[str, Callable[[], Any]], repeats: int = REPEATS, warm_up: int = WARM_UP
) -> dict[str, float]:
    """The median wall time of each call, the calls taken in turn within every round.

    Interleaved so that the machine's other load falls on every call alike instead of on
    whichever was measured while it peaked.
    """
    for _ in range(warm_up):
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def first_page(engine: Engine, division: str = TIMED_DISTRICT) -> list[Any]:
    """The first queue page of the district's market-regulation clerk, through the engine."""
    return list(engine.list_tasks(clerk_of(division), limit=PAGE).items)


def bare_page(engine: Engine, division: str = TIMED_DISTRICT) -> list[Any]:
    """The same page as the bare statement the engine runs (no views)."""
    params = {"departments": [DEPARTMENT], "division": division}
    with engine.db.read() as s:
        return list(s.execute(_queue_select(frozenset(params)), {**params, "limit": PAGE + 1}).all())


def office_backlog(engine: Engine, division: str = TIMED_DISTRICT) -> int:
    """How many open market-regulation tasks the district's office holds (what its queue sorts)."""
    with engine.db.read() as s:
        return int(
            s.execute(
                text(
                    "SELECT count(*) FROM work_items WHERE department = :d AND division = :v"
                    " AND state IN ('ready', 'claimed', 'failed')"
                ),
                {"d": DEPARTMENT, "v": division},
            ).scalar_one()
        )


def query_plan(engine: Engine, division: str = TIMED_DISTRICT) -> str:
    """The database's plan for the page's statement with bound parameters, as the engine runs it.

    Bound, not literal: SQLite can prove a partial index's WHERE only from literal values,
    so a plan of the literal statement would not be the engine's plan.
    """
    params = {"departments": [DEPARTMENT], "division": division, "limit": PAGE + 1}
    with engine.db.read() as s:
        connection = s.connection()
        compiled = _queue_select(frozenset(params) - {"limit"}).compile(connection)
        expanded = compiled.construct_expanded_state(params)
        values: Any = expanded.parameters
        if compiled.positional:
            values = expanded.positional_parameters
        prefix = "EXPLAIN QUERY PLAN " if engine.db.is_sqlite else "EXPLAIN "
        lines = connection.exec_driver_sql(prefix + expanded.statement, values).all()
    return " | ".join(str(line[-1]).strip() for line in lines)


def _measure(report: Report, backend: str, urls: Iterator[str], root: Path) -> None:
    sizes = {"10k in 1 district": (BASELINE_ROWS, 1), "1M over 100": (LARGE_ROWS, DISTRICTS)}
    engines: dict[str, Engine] = {}
    try:
        for label, (rows, districts) in sizes.items():
            started = time.perf_counter()
            engine = engines[label] = prepare(next(urls), root / f"{backend}-{rows}", rows, districts)
            report(f"{backend} {label}: load", time.perf_counter() - started, "s")
            page = first_page(engine)
            assert len(page) == PAGE
            assert {(t.department, t.division) for t in page} == {(DEPARTMENT, TIMED_DISTRICT)}
            print(f"  plan ({label}): {query_plan(engine)}", flush=True)
        backlogs = {label: office_backlog(engine) for label, engine in engines.items()}
        print(f"  the timed office's open tasks: {backlogs}", flush=True)
        low, high = min(backlogs.values()), max(backlogs.values())
        assert high <= low * 1.1, f"the two sizes must give the timed office the same backlog: {backlogs}"
        calls: dict[str, Callable[[], Any]] = {}
        for label, engine in engines.items():
            calls[f"{label}: list_tasks first page"] = lambda e=engine: first_page(e)  # type: ignore[misc]
            calls[f"{label}: queue statement"] = lambda e=engine: bare_page(e)  # type: ignore[misc]
        medians = paired_medians(calls)
        for name, seconds in medians.items():
            report(f"{backend} {name} (median)", seconds * 1000, "ms")
        for what in ("list_tasks first page", "queue statement"):
            ratio = medians[f"1M over 100: {what}"] / medians[f"10k in 1 district: {what}"]
            target = " (target <= 1.5)" if what.startswith("list_tasks") else ""
            report(f"{backend} ratio 1M/100 vs 10k/1, {what}{target}", ratio, "x")
    finally:
        for engine in engines.values():
            engine.close()


def run(report: Report) -> None:
    """SQLite, then PostgreSQL when its server binaries are installed."""
    with tempfile.TemporaryDirectory(prefix="onething-bench-regions-") as folder:
        root = Path(folder)
        _measure(report, "sqlite", (f"sqlite:///{root / f'regions-{n}.db'}" for n in range(2)), root)
        if find_pg_bin() is None:
            print("  postgres: skipped (PostgreSQL server binaries not found)", flush=True)
            return
        cluster = start_cluster()
        try:
            _measure(report, "postgres", (cluster.create_database() for _ in range(2)), root)
        finally:
            cluster.stop()
