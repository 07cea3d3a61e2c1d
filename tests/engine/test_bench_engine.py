"""The engine benchmark's own parts still run (``make bench`` is not part of ``make test``).

Each figure of ``tests/bench/bench_engine.py`` comes from a function tested here on a tiny
budget, so a change to the engine that breaks the benchmark shows up in ``make test``.
"""

from __future__ import annotations

from pathlib import Path

from engine.people.actors import Actor, Role
from tests.bench import bench_engine


def test_the_baselines_run_whole_cases(tmp_path: Path) -> None:
    assert bench_engine.in_memory_rate(seconds=0.05) > 0
    assert bench_engine.floor_rate(tmp_path, seconds=0.05) > 0
    assert bench_engine.floor_rate(tmp_path, seconds=0.05, save=False, commit=False) > 0
    assert bench_engine.floor_rate(tmp_path, seconds=0.05, commit=False) > 0
    assert bench_engine.floor_rate(tmp_path, seconds=0.05, synchronous="NORMAL") > 0


def test_a_durable_bench_case_runs_to_completed_and_is_timed(tmp_path: Path) -> None:
    engine, example, materials = bench_engine._prepare(tmp_path)
    try:
        times: list[float] = []
        bench_engine._run_case(engine, example, materials, 0, times)
        (case,) = engine.list_cases(Actor("bench-0", Role.APPLICANT)).items
        assert case.status == "completed"
        # Every clerk's task is timed; the tax registration is the tax system's step.
        assert len(times) == len([t for t in case.tasks if not t.by_system]) >= 6
        phases = bench_engine.phase_times(engine, example, materials, cases=1)
        assert set(phases.calls) == {"apply", "system", "queue", "claim", "complete", "certificate"}
        assert phases.cases == 1 and phases.per_case() == sum(phases.statements.values()) > 0
        assert all(phases.per_call(name) >= 1 for name in ("apply", "queue", "claim", "complete"))
        # Each certificate is timed inside its completion, and the engine gets its method back.
        assert 0 < sum(phases.calls["certificate"]) < sum(phases.calls["complete"])
        assert "issue_certificate" not in vars(engine.materials)
        assert bench_engine.grow_to(engine, 5) == 5
    finally:
        engine.close()
