"""Engine throughput: durable cases through the engine against the floor of any durable engine.

Every figure is taken at SQLite's ``synchronous`` level of the serving default (FULL: each
commit synced to disk; ``ONETHING_SQLITE_SYNCHRONOUS=NORMAL`` measures the other), the engine
and the floor alike, and the level is printed first. Figures (enterprise-startup, first
example route):
- the floor: the same diagram with what any durable engine must add (each task run to its
  next wait, the state saved by the engine's codec, a plain sqlite3 commit per claim and per
  completion), and its parts on their own against plain SpiffWorkflow in memory;
- cases/s through the engine on an SQLite file (apply, then every task claimed and
  approved, each action its own durable transaction with the audit trail, queue rows,
  projections and certificates; the analytics projection at the worker's interval), and its
  ratio to the floor (aim >= 0.5);
- where a durable case spends its time: median ms of applying, reading the queue, claiming
  and completing, a task action (claim + complete), the SQL statements per call of each,
  how much of a claim is SQL execution, and the ms per case the engine adds above the floor
  next to what the aim leaves (certificates shown apart);
- median cost of one task action (claim + complete) with 1k and with 100k cases in the
  database, and their ratio (aim <= 1.5).
"""

from __future__ import annotations

import io
import sqlite3
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, text

from engine.analytics.projection import catch_up
from engine.bpmn.definitions import load_definition, read_bundle_dir
from engine.bpmn.manifest import outcome_key
from engine.bpmn.serialization import WorkflowCodec
from engine.cases.states import Outcome
from engine.demo import demo_pdf, department_systems_work
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.settings import Settings, shipped_processes_dir
from tests.support.engines import MONDAY

Report = Callable[[str, float, str], None]
T = TypeVar("T")
BUNDLE = "enterprise-startup"
ROUNDS = 3
# The floor and its parts: (name, state saved, sqlite3 commit per action).
FLOOR_PARTS = (("stepped", False, False), ("saved", True, False), ("floor", True, True))
ANALYST = Actor("analyst", Role.ANALYST)


def _example(engine: Engine) -> dict[str, Any]:
    return dict(engine.bundle_detail(BUNDLE).examples[0])


def _plain_workflow() -> tuple[Callable[[], BpmnWorkflow], Callable[[Any], None]]:
    """Plain SpiffWorkflow on the bench diagram: a started workflow, and a clerk's approval of a task.

    The first example's data goes into the start; each user task gets its example decision
    and the approval its gateways read. The spec is parsed once, as the engine does.
    """
    definition = load_definition(read_bundle_dir(shipped_processes_dir() / BUNDLE))
    example = definition.manifest.examples[0]
    by_task = {item.task: item.key for item in definition.manifest.items}

    def started() -> BpmnWorkflow:
        wf = BpmnWorkflow(definition.spec, dict(definition.subprocess_specs))
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(dict(example.data))
        wf.do_engine_steps()
        return wf

    def decide(task: Any) -> None:
        item = by_task[task.task_spec.bpmn_id]
        task.set_data(**example.decisions.get(item, {}), **{outcome_key(item): "approve"})

    return started, decide


def in_memory_rate(seconds: float = 4.0) -> float:
    """Cases per second of plain SpiffWorkflow on the same diagram and data."""
    started_workflow, decide = _plain_workflow()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        wf = started_workflow()
        while not wf.is_completed():
            for task in wf.get_tasks(state=TaskState.READY, manual=True):
                decide(task)
                task.run()
            wf.do_engine_steps()
        count += 1
    return count / (time.perf_counter() - started)


def floor_rate(
    folder: Path, seconds: float = 4.0, *, save: bool = True, commit: bool = True, synchronous: str = "FULL"
) -> float:
    """Cases per second of the least a durable engine must do, with no ORM, queue or audit.

    The same diagram and data as ``in_memory_rate``, but each task runs to its next wait
    on its own (a durable engine must learn the next tasks of every action), its instance
    state is saved with the engine's codec and written with a plain ``sqlite3`` commit
    (WAL, at the engine's ``synchronous`` level), and claiming is one more commit. The gap
    between this and the durable engine is what the engine's own bookkeeping costs.
    ``save`` and ``commit`` turn the two durable parts off, to show what each costs.
    """
    started_workflow, decide = _plain_workflow()
    codec = WorkflowCodec()
    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, state TEXT, claimed TEXT)")

    def saved(wf: BpmnWorkflow) -> str:
        return codec.dumps(wf) if save else ""

    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        wf = started_workflow()
        state = saved(wf)
        case_id = db.execute("INSERT INTO cases (state) VALUES (?)", (state,)).lastrowid if commit else 0
        while not wf.is_completed():
            for task in wf.get_tasks(state=TaskState.READY, manual=True):
                if commit:
                    db.execute("UPDATE cases SET claimed = ? WHERE id = ?", (str(task.id), case_id))
                decide(task)
                task.run()
                wf.do_engine_steps()
                state = saved(wf)
                if commit:
                    db.execute("UPDATE cases SET state = ? WHERE id = ?", (state, case_id))
        count += 1
    rate = count / (time.perf_counter() - started)
    db.close()
    return rate


def _run_case(
    engine: Engine,
    example: dict[str, Any],
    materials: dict[str, dict[str, str]],
    n: int,
    action_times: list[float] | None = None,
) -> None:
    applicant = Actor(f"bench-{n % 50}", Role.APPLICANT)
    case = engine.start_case(applicant, BUNDLE, example["data"], materials[applicant.username])
    while True:
        department_systems_work(engine, case.id, example["decisions"])  # the tax system's step
        open_items = engine.list_tasks(ANALYST, bundle=BUNDLE, limit=50).items
        mine = [t for t in open_items if t.case_id == case.id]
        if not mine:
            return
        for task in mine:
            clerk = Actor(f"clerk.{task.department}", Role.CLERK, frozenset({task.department}))
            t0 = time.perf_counter()
            engine.claim(clerk, task.id)
            engine.complete(clerk, task.id, Outcome.APPROVE, example["decisions"].get(task.item, {}))
            if action_times is not None:
                action_times.append(time.perf_counter() - t0)


def _prepare(tmp: Path) -> tuple[Engine, dict[str, Any], dict[str, dict[str, str]]]:
    from engine.time.clock import ManualClock

    engine = Engine(
        Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", data_dir=tmp / "var"),
        clock=ManualClock(MONDAY),
    )
    engine.upgrade()
    engine.deploy_shipped()
    example = _example(engine)
    materials = {
        f"bench-{i}": {
            kind: engine.materials.upload(f"bench-{i}", kind, "x.pdf", io.BytesIO(demo_pdf(kind))).id
            for kind in example["materials"]
        }
        for i in range(50)
    }
    return engine, example, materials


@dataclass
class PhaseTimes:
    """Wall time per engine call of a few durable cases, and the SQL they ran.

    ``calls`` holds the engine calls (apply, queue, claim, complete) and, inside the
    completions, each certificate issued (a file written and synced before the commit).
    """

    calls: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statements: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cases: int = 0
    sql_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def per_call(self, name: str) -> float:
        """SQL statements per call of ``name``."""
        return self.statements[name] / max(1, len(self.calls[name]))

    def per_case(self) -> float:
        """SQL statements per durable case, all calls together."""
        return sum(self.statements.values()) / max(1, self.cases)


def phase_times(
    engine: Engine, example: dict[str, Any], materials: dict[str, dict[str, str]], cases: int = 15
) -> PhaseTimes:
    """Time each call of ``cases`` durable cases, counting and timing their SQL statements."""
    found = PhaseTimes()
    phase = ["other"]
    started: list[float] = []

    def before(*_args: Any) -> None:
        found.statements[phase[0]] += 1
        started.append(time.perf_counter())

    def after(*_args: Any) -> None:
        found.sql_seconds[phase[0]] += time.perf_counter() - started.pop()

    def timed(name: str, call: Callable[[], T]) -> T:
        phase[0] = name
        t0 = time.perf_counter()
        result = call()
        found.calls[name].append(time.perf_counter() - t0)
        return result

    issue = engine.materials.issue_certificate

    def timed_issue(*args: Any, **kwargs: Any) -> Any:
        # Inside a completion: timed on its own, the phase stays "complete".
        t0 = time.perf_counter()
        try:
            return issue(*args, **kwargs)
        finally:
            found.calls["certificate"].append(time.perf_counter() - t0)

    engine.materials.issue_certificate = timed_issue  # type: ignore[method-assign]
    event.listen(engine.db.engine, "before_cursor_execute", before)
    event.listen(engine.db.engine, "after_cursor_execute", after)
    try:
        for n in range(cases):
            applicant = Actor(f"bench-{n % 50}", Role.APPLICANT)
            data, attached = example["data"], materials[applicant.username]
            case = timed("apply", partial(engine.start_case, applicant, BUNDLE, data, attached))
            while True:
                timed("system", partial(department_systems_work, engine, case.id, example["decisions"]))
                queue = timed("queue", lambda: engine.list_tasks(ANALYST, bundle=BUNDLE, limit=50).items)
                mine = [t for t in queue if t.case_id == case.id]
                if not mine:
                    break
                for task in mine:
                    clerk = Actor(f"clerk.{task.department}", Role.CLERK, frozenset({task.department}))
                    decision = example["decisions"].get(task.item, {})
                    timed("claim", partial(engine.claim, clerk, task.id))
                    timed("complete", partial(engine.complete, clerk, task.id, Outcome.APPROVE, decision))
    finally:
        del engine.materials.issue_certificate  # the method again
        event.remove(engine.db.engine, "before_cursor_execute", before)
        event.remove(engine.db.engine, "after_cursor_execute", after)
    found.cases = cases
    return found


def durable_rate(
    engine: Engine, example: dict[str, Any], materials: dict[str, dict[str, str]], seconds: float = 8.0
) -> float:
    """Cases per second through the durable engine, the analytics projection of its completions included.

    The worker of ``onething serve`` adds the completions queued since its last tick to the
    analytics aggregates every ``worker_interval`` seconds; this loop does the same, and once
    more before the clock stops, so the figure pays for counting every case it ran.
    """
    interval = engine.settings.worker_interval
    count, started = 0, time.perf_counter()
    projected = started
    while time.perf_counter() - started < seconds:
        _run_case(engine, example, materials, count)
        count += 1
        if time.perf_counter() - projected >= interval:
            catch_up(engine.db)
            projected = time.perf_counter()
    catch_up(engine.db)
    return count / (time.perf_counter() - started)


def grow_to(engine: Engine, target: int) -> int:
    """Copy finished cases (with their task rows and events) until the database holds ``target`` cases."""
    with engine.db.engine.begin() as conn:
        total = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        while total < target:
            batch = min(total, target - total)
            top_case = conn.execute(text("SELECT max(id) FROM cases")).scalar_one()
            top_item = conn.execute(text("SELECT max(id) FROM work_items")).scalar_one()
            top_event = conn.execute(text("SELECT max(id) FROM case_events")).scalar_one()
            cols = (
                "deployment_id, bundle_key, version, applicant, status, data, materials, pending_materials,"
                " outputs, notice, round, state, state_version, created_at, updated_at, finished_at, due_at,"
                " next_timer_at, origin_case_id, division"
            )
            conn.execute(
                text(
                    f"INSERT INTO cases (id, {cols}) SELECT id + :off, {cols} FROM cases "
                    "WHERE status = 'completed' ORDER BY id LIMIT :n"
                ),
                {"off": top_case, "n": batch},
            )
            icols = (
                "deployment_id, bundle_key, item_key, task_name, spiff_id, department, state, assignee,"
                " round, created_at, claimed_at, completed_at, due_at, outcome, decision, comment, problems,"
                " overdue, manual_reason, division"
            )
            conn.execute(
                text(
                    f"INSERT INTO work_items (id, case_id, {icols}) "
                    f"SELECT id + :ioff, case_id + :off, {icols} "
                    "FROM work_items WHERE case_id IN (SELECT id FROM cases WHERE status = 'completed' "
                    "ORDER BY id LIMIT :n)"
                ),
                {"off": top_case, "ioff": top_item, "n": batch},
            )
            ecols = "at, actor, kind, work_item_id, detail"
            conn.execute(
                text(
                    f"INSERT INTO case_events (id, case_id, {ecols}) "
                    f"SELECT id + :eoff, case_id + :off, {ecols} "
                    "FROM case_events WHERE case_id IN (SELECT id FROM cases WHERE status = 'completed' "
                    "ORDER BY id LIMIT :n)"
                ),
                {"off": top_case, "eoff": top_event, "n": batch},
            )
            total = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
    return int(total)


def action_cost(
    engine: Engine, example: dict[str, Any], materials: dict[str, dict[str, str]], cases: int = 15
) -> float:
    """Median seconds of one task action (claim + complete) on new cases."""
    times: list[float] = []
    for n in range(cases):
        _run_case(engine, example, materials, n, times)
    return statistics.median(times)


def run(report: Report) -> None:
    """Measure and print the engine figures, all at the serving default's ``synchronous`` level."""
    with tempfile.TemporaryDirectory(prefix="onething-bench-") as tmp:
        engine, example, materials = _prepare(Path(tmp))
        level = engine.settings.sqlite_synchronous
        print(
            f"  SQLite synchronous={level} for the engine and the floor alike (the serving default",
            flush=True,
        )
        print("  unless ONETHING_SQLITE_SYNCHRONOUS sets another)", flush=True)
        _run_case(engine, example, materials, 0)  # warm caches
        # Alternating rounds, medians reported: a shared machine drifts by a fifth between
        # runs, and a baseline taken minutes before its comparison would drift with it.
        rates: dict[str, list[float]] = defaultdict(list)
        for n in range(ROUNDS):
            rates["memory"].append(in_memory_rate(seconds=2.0))
            rates["durable"].append(durable_rate(engine, example, materials, seconds=4.0))
            for part, save, commit in FLOOR_PARTS:
                folder = Path(tmp) / f"{part}-{n}"
                folder.mkdir()
                rates[part].append(
                    floor_rate(folder, seconds=2.0, save=save, commit=commit, synchronous=level)
                )
        median = statistics.median

        def ratios(part: str, base: str) -> list[float]:
            return [x / b for x, b in zip(rates[part], rates[base], strict=True)]

        memory, durable, floor = median(rates["memory"]), median(rates["durable"]), median(rates["floor"])
        report(
            f"floor (stepped, saved, a commit per action), median of {ROUNDS}",
            floor,
            "cases/s",
        )
        report("durable engine on SQLite, cases/s (median)", durable, "cases/s")
        report(
            "ratio durable engine / floor, median of rounds (aim >= 0.5)",
            median(ratios("durable", "floor")),
            "x",
        )
        report("  ... lowest round", min(ratios("durable", "floor")), "x")
        report("  ... highest round", max(ratios("durable", "floor")), "x")
        report("in-memory SpiffWorkflow, cases/s (no durability at all)", memory, "cases/s")
        report(
            "floor, part 1: each task run to its next wait / in-memory",
            median(ratios("stepped", "memory")),
            "x",
        )
        report(
            "floor, part 2: ... and its state saved by the codec / in-memory",
            median(ratios("saved", "memory")),
            "x",
        )
        report("floor / in-memory", median(ratios("floor", "memory")), "x")
        report("durable engine / in-memory", median(ratios("durable", "memory")), "x")
        phases = phase_times(engine, example, materials)
        for name, times in phases.calls.items():
            report(f"{name}: median per call ({len(times)} calls)", statistics.median(times) * 1000, "ms")
        actions = [c + d for c, d in zip(phases.calls["claim"], phases.calls["complete"], strict=True)]
        report("task action (claim + complete): median", statistics.median(actions) * 1000, "ms")
        for name in ("apply", "system", "queue", "claim", "complete"):
            report(f"SQL statements per {name}", phases.per_call(name), "statements")
        report(
            "SQL statements per task action (claim + complete)",
            phases.per_call("claim") + phases.per_call("complete"),
            "statements",
        )
        report("SQL statements per durable case", phases.per_case(), "statements")
        claims = phases.calls["claim"]
        report("claim: share spent executing SQL", phases.sql_seconds["claim"] / sum(claims), "x")
        # The ceiling in time: what a case may cost above the floor and still reach half of
        # it, against what the engine adds, and the certificates alone.
        report("ms per case the aim leaves above the floor (1/(floor/2) - 1/floor)", 1000 / floor, "ms")
        report("ms per case the engine adds above the floor", 1000 / durable - 1000 / floor, "ms")
        issued = sum(phases.calls["certificate"]) / phases.cases
        report("  ... of which issuing certificates", issued * 1000, "ms")
        total = grow_to(engine, 1_000)
        small = action_cost(engine, example, materials)
        report(f"task action (claim+complete) at {total:,} cases, median", small * 1000, "ms")
        total = grow_to(engine, 100_000)
        with engine.db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        large = action_cost(engine, example, materials)
        report(f"task action (claim+complete) at {total:,} cases, median", large * 1000, "ms")
        report("ratio 100k / 1k (aim <= 1.5)", large / small, "x")
        engine.close()
