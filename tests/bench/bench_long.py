"""Long cases stay flat: the cost of a case's 1st, 50th, 100th and 200th task action, and its state size.

Bundle ``long-review`` (tests/engine/bundles): one desk checks 200 entries one after another
(a sequential multi-instance user task), so a case takes 200 task actions (claim + approve)
and SpiffWorkflow's tree keeps every finished instance. Several cases advance interleaved
(action n of every case, then n + 1), so each point's figure is the median over the cases at
the same point and the machine's noise falls on every point alike. Figures, on an SQLite file:
- median ms of task action 1, 50, 100, 199, 200 with the workflow cache warm (as a serving
  process runs), and the ratios 200th / 1st (aim <= 2) and 199th / 1st (the 200th also ends
  the step and the case; the 199th is the last of a running case); the same in CPU time of the acting
  thread (SQLite runs in it), which other processes on a loaded machine disturb far less;
- the same with no cache (every action restores the workflow from its stored text, as a
  freshly started or scaled-out process does);
- the stored state's bytes after the application and after action 1, 50, 100, 199, 200, with its
  growth per action over each stretch (linear: about the same per action throughout);
- the garbage collector's ms per action over the last 25 rounds, in each walk.
The engine's process settles its heap first, as a web process does once started (``api.heap``).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.heap import settle_heap
from engine.cases.states import CaseStatus
from engine.service import Engine
from engine.storage.models import Case
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.support.engines import APPLICANT, MONDAY, TEST_BUNDLES
from tests.support.long_cases import BUNDLE, DATA, DESK, ENTRIES, ready_task, state_bytes

Report = Callable[[str, float, str], None]
# 199 is the last action of a case still running; the 200th also ends the 200-instance step
# (Spiff closes it over all its instances) and finishes the case (its bookkeeping runs once).
POINTS = (1, 50, 100, 199, 200)
# Each point is one action per case: with 5 cases, one burst of the shared machine's noise
# on two of them moved a point's median by half (a 199th action measured 22.8 ms against
# 12.0 for the 100th and 16.7 for the 200th). Nine cases take that much noise on four.
CASES = 9
LAST_ROUNDS = 25


class CollectorTime:
    """The wall time CPython's garbage collector has taken while this is in ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


@dataclass
class Walk:
    """What one walk measured: median ms at each point (wall, CPU), one case's bytes, GC ms an action."""

    costs: dict[int, float] = field(default_factory=dict)
    cpu_costs: dict[int, float] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    collector_ms: float = 0.0


def walk(root: Path, cache_size: int) -> Walk:
    """``CASES`` cases run interleaved: median wall and CPU ms at each point; one case's bytes."""
    engine = Engine(
        Settings(
            database_url=f"sqlite:///{root / 'long.db'}",
            data_dir=root / "var",
            workflow_cache_size=cache_size,
        ),
        clock=ManualClock(MONDAY),
    )
    try:
        engine.upgrade()
        engine.deployments.deploy_dir(TEST_BUNDLES / BUNDLE)
        settle_heap()
        cases = [engine.start_case(APPLICANT, BUNDLE, DATA, {}).id for _ in range(CASES)]
        found = Walk(sizes={0: state_bytes(engine, cases[0])})
        collector = CollectorTime()
        gc.callbacks.append(collector)
        before_last = 0.0
        for n in range(1, ENTRIES + 1):
            if n == ENTRIES - LAST_ROUNDS + 1:
                before_last = collector.seconds
            took, used = [], []
            for case_id in cases:
                task_id = ready_task(engine, case_id)
                started, cpu = time.perf_counter(), time.thread_time()
                engine.claim(DESK, task_id)
                engine.complete(DESK, task_id, "approve", {}, "核对无误")
                took.append(time.perf_counter() - started)
                used.append(time.thread_time() - cpu)
            if n in POINTS:
                found.costs[n] = statistics.median(took) * 1000
                found.cpu_costs[n] = statistics.median(used) * 1000
                found.sizes[n] = state_bytes(engine, cases[0])
        found.collector_ms = (collector.seconds - before_last) * 1000 / (LAST_ROUNDS * CASES)
        with engine.db.read() as s:
            statuses = {s.get(Case, c).status for c in cases}  # type: ignore[union-attr]
        if statuses != {CaseStatus.COMPLETED}:
            raise RuntimeError(f"cases ended {statuses}")
        return found
    finally:
        if collector in gc.callbacks:
            gc.callbacks.remove(collector)
        engine.close()


def run(report: Report) -> None:
    """Warm and cold walks; costs, ratios and state growth."""
    for label, cache_size in (("warm cache", 256), ("no cache", 0)):
        with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
            found = walk(Path(tmp), cache_size)
        costs, cpu_costs, sizes = found.costs, found.cpu_costs, found.sizes
        for n in POINTS:
            report(f"{label}: task action {n} (claim + approve), median of {CASES} cases", costs[n], "ms")
        report(f"{label}: action {ENTRIES} / action 1 (aim <= 2)", costs[ENTRIES] / costs[1], "x")
        last = ENTRIES - 1
        report(f"{label}: action {last} (the case still running) / action 1", costs[last] / costs[1], "x")
        for n in POINTS:
            report(f"{label}: task action {n}, CPU time of this thread", cpu_costs[n], "ms")
        report(
            f"{label}: action {ENTRIES} / action 1 in CPU time (aim <= 2)",
            cpu_costs[ENTRIES] / cpu_costs[1],
            "x",
        )
        report(
            f"{label}: action {last} / action 1 in CPU time",
            cpu_costs[last] / cpu_costs[1],
            "x",
        )
        report(
            f"{label}: garbage collector's time per action, last {LAST_ROUNDS} rounds",
            found.collector_ms,
            "ms",
        )
        if cache_size:
            previous = 0
            for n in (0, *POINTS):
                report(f"state after action {n}", sizes[n], "bytes")
                if n:
                    report(
                        f"  growth per action over {previous}..{n}",
                        (sizes[n] - sizes[previous]) / (n - previous),
                        "bytes",
                    )
                previous = n
            growth = (sizes[200] - sizes[100]) / (sizes[100] - sizes[0])
            report("state growth 100..200 / 0..100 (linear: about 1)", growth, "x")
