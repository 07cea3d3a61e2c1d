"""智能导办: how often the test set finds its bundle, and how fast a question is answered.

Figures:
- top-1 and top-3 over ``tests/search/queries.yaml`` (the suite asserts >= 90 % and >= 98 %),
  and how often the expected 情形 comes first where the test set names one;
- building the index over the shipped bundles (jieba's dictionary already loaded);
- p50 and p95 of one question through the index (aim p50 <= 20 ms), every question of the
  set several times;
- p50 of ``Engine.search_bundles`` on SQLite with the shipped bundles deployed: the index
  plus the query that tells whether a bundle was deployed since it was built.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.cases.bundle_search import SEGMENTER
from engine.service import Engine
from engine.storage.settings import Settings
from tests.search.shipped_index import measure, queries, shipped_index

Report = Callable[[str, float, str], None]
ROUNDS = 5


def _percentiles(times: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95)] * 1000


def run(report: Report) -> None:
    """Measure and report the search figures."""
    rows = queries()
    SEGMENTER.words("预热")  # jieba's dictionary: once per process, not part of a question
    started = time.perf_counter()
    index = shipped_index()
    report("index build over the shipped bundles", (time.perf_counter() - started) * 1000, "ms")
    quality = measure(index, rows)
    report(f"questions in the test set ({len(rows)})", quality.total, "")
    report("top-1 (aim >= 90 %)", 100 * quality.top1 / quality.total, "%")
    report("top-3 (aim >= 98 %)", 100 * quality.top3 / quality.total, "%")
    report(
        f"situation first, where named ({quality.situations})",
        100 * quality.situations_right / quality.situations,
        "%",
    )
    times: list[float] = []
    for _ in range(ROUNDS):
        for row in rows:
            t0 = time.perf_counter()
            index.search(row.q)
            times.append(time.perf_counter() - t0)
    p50, p95 = _percentiles(times)
    report("one question through the index, p50 (aim <= 20 ms)", p50, "ms")
    report("one question through the index, p95", p95, "ms")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        engine = Engine(Settings(database_url=f"sqlite:///{root / 'bench.db'}", data_dir=root / "var"))
        engine.upgrade()
        engine.deploy_shipped()
        engine.search_bundles("预热")  # builds the index for this deployment set
        times = []
        for row in rows:
            t0 = time.perf_counter()
            engine.search_bundles(row.q)
            times.append(time.perf_counter() - t0)
        p50, p95 = _percentiles(times)
        report("Engine.search_bundles on SQLite, p50", p50, "ms")
        report("Engine.search_bundles on SQLite, p95", p95, "ms")
        engine.close()
