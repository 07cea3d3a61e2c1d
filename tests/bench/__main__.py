"""``make bench``: run every ``tests/bench/bench_*.py`` and print its figures.

Each module exposes ``run(report)``; ``report(name, value, unit)`` prints one figure.
Ratios are always against a baseline measured in the same run on the same machine, so
the numbers compare like with like. ``python -m tests.bench engine forms`` runs a subset.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def report(name: str, value: float, unit: str) -> None:
    """Print one figure, aligned."""
    shown = f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    print(f"  {name:<64} {shown:>14} {unit}", flush=True)


def main(argv: list[str]) -> int:
    """Run the selected benchmark modules (all by default)."""
    here = Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("bench_*.py"))
    wanted = [n for n in names if not argv or any(a in n for a in argv)]
    failed = 0
    for name in wanted:
        print(f"\n== {name}", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"tests.bench.{name}").run(report)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed += 1
            print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
        print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
