"""The analytics benchmark fills the tables with what ``analytics.rebuild`` would compute.

``make bench`` is not part of ``make test``; this runs its fill on a small size, so the
benchmark's figures keep coming from aggregates the real arithmetic agrees with.
"""

from __future__ import annotations

from pathlib import Path

from tests.bench import bench_analytics


def test_the_bench_fill_agrees_with_a_rebuild(tmp_path: Path) -> None:
    engine = bench_analytics._engine(tmp_path, "small")
    try:
        bench_analytics.fill(engine, 2000)
        bench_analytics.check_rebuild_agrees(engine)
    finally:
        engine.close()
