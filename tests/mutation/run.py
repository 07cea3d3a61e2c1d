"""``make mutation``: mutmut over the rule modules, one module at a time, each against its own tests.

mutmut reads its settings from ``pyproject.toml`` in the directory it runs in and keeps its
work (``mutants/``, the per-test statistics) there; a change of the test selection resets
every result. So each module gets a directory of its own, ``mutants/<module>/``, holding
links to the sources and tests and a copy of the project's ``pyproject.toml`` whose
``[tool.mutmut]`` section adds ``only_mutate`` (the module) and the module's tests. Inside
that selection mutmut runs each mutant against only the tests that called the mutated
function. Every run starts from scratch, so a changed source file is never compared with a
stale copy.

    .venv/bin/python -m tests.mutation.run [forms.checks ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.mutation.score import Score, score_module

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "mutants"
# What a module's directory links to: the sources mutmut copies and mutates, and the tests.
LINKED = ("engine", "forms", "api", "processes", "tests")


@dataclass(frozen=True)
class Target:
    """One module under mutation and the tests that exercise its rules."""

    path: str
    tests: tuple[str, ...]

    @property
    def name(self) -> str:
        """The module's dotted name (also its directory under ``mutants/``)."""
        return self.path.removesuffix(".py").replace("/", ".")


# The expression tests' PostgreSQL cases repeat SQLite ones; the store's one PostgreSQL test shows
# what only read committed can (rows changed between a task's look-up and the case lock).
TARGETS = (
    Target("forms/checks.py", ("tests/forms/test_checks.py", "tests/forms/test_check_rules.py")),
    Target(
        "engine/time/calendar.py", ("tests/engine/test_calendar.py", "tests/engine/test_calendar_rules.py")
    ),
    Target("engine/cases/store.py", ("tests/engine/test_store_rules.py",)),
    Target(
        "engine/bpmn/expressions/vetting.py",
        (
            "-m",
            "not postgres",
            "tests/engine/test_expressions.py",
            "tests/engine/test_vetting_rules.py",
            "tests/engine/test_vetting_mutants.py",
        ),
    ),
)


def pyproject_for(target: Target) -> str:
    """The project's ``pyproject.toml`` with the module and its tests added to ``[tool.mutmut]``."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    header = "[tool.mutmut]\n"
    if text.count(header) != 1:
        raise SystemExit("pyproject.toml needs exactly one [tool.mutmut] section")
    added = (
        f"only_mutate = {json.dumps([target.path])}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(list(target.tests))}\n"
    )
    return text.replace(header, header + added)


def prepare(target: Target) -> Path:
    """A fresh working directory for one module's run."""
    work = WORK / target.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in LINKED:
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    (work / "pyproject.toml").write_text(pyproject_for(target), encoding="utf-8")
    return work


def run(target: Target, jobs: int) -> tuple[Score, float]:
    """Run mutmut over one module; its score and the wall time in seconds."""
    work = prepare(target)
    mutmut = Path(sys.executable).with_name("mutmut")
    started = time.monotonic()
    done = subprocess.run([str(mutmut), "run", "--max-children", str(jobs)], cwd=work, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"mutmut failed on {target.path} (exit {done.returncode}); see its output above")
    return score_module(work / "mutants", target.path), elapsed


def main(argv: list[str] | None = None) -> None:
    """Run the chosen modules (all by default) one after another and print each one's score."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("modules", nargs="*", help="dotted module names (default: all four)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    args = parser.parse_args(argv)
    chosen = [t for t in TARGETS if not args.modules or t.name in args.modules]
    unknown = set(args.modules) - {t.name for t in TARGETS}
    if unknown:
        parser.error(f"unknown modules: {', '.join(sorted(unknown))}")
    results = []
    for target in chosen:
        print(f"== {target.path}: mutants against {' '.join(target.tests)}", flush=True)
        score, elapsed = run(target, args.jobs)
        print(score.report(), flush=True)
        results.append((score, elapsed))
    print("\nmutation scores (killed includes timeouts; 'rules' leaves out mutants of message text only)")
    for score, elapsed in results:
        print(f"  {score.summary()}  [{elapsed / 60:.1f} min]")


if __name__ == "__main__":
    main()
