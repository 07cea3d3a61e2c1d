"""Memory of a serving process: RSS of ``onething serve`` after 1,000 and after 10,000 cases.

A real ``onething serve --demo`` on an SQLite file (its own process, running this checkout's
code). Cases are put in its database from this process: ``TEMPLATES`` real applications
through the engine (not counted), and the counted cases as copies of their case and ready
task rows (plain SQL: applying 10,000 through the engine or over HTTP took over 15 minutes
here on two shared cores). Every case is then touched through the server: its first task claimed and
approved with the inbox's bulk calls (``POST /api/tasks/bulk``, 100 tasks a request), so each
workflow is restored from its stored text, run and saved by the server, with its audit lines,
and passes through the server's workflow cache. Figures: the server's VmRSS
(``/proc/<pid>/status``) idle after start, after 1,000 and after 10,000 cases, and the
ratio 10,000 / 1,000 (aim <= 1.2).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Table, insert, literal, select

from engine.cases.states import WorkItemState
from engine.service import Engine
from engine.storage.models import Case, WorkItem
from engine.storage.settings import Settings
from tests.api.support import ServeProcess, start_serve
from tests.bench.bench_http import token
from tests.support.engines import APPLICANT

Report = Callable[[str, float, str], None]
BUNDLE = "social-security-card"  # its example needs no upload
STEPS = (1_000, 10_000)
BULK = 100
TEMPLATES = 50  # real applications the counted cases are copies of
CHECKOUT = Path(__file__).resolve().parents[2]


def rss_kib(pid: int) -> int:
    """The process's resident set (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def seed(engine: Engine, example: dict[str, Any], count: int, templates: list[int]) -> list[int]:
    """``count`` new cases, copies of ``TEMPLATES`` real applications made on the first call.

    A copy is the template's case row (without its case code, which is unique) and its ready
    task rows, pointing at the new case: to the server it is a case like any other, whose
    workflow it restores from the stored state text. The templates themselves stay as
    applied (never touched, not counted), so every copy starts at the first task.
    """
    made: list[int] = []
    while len(templates) < TEMPLATES:
        templates.append(engine.start_case(APPLICANT, BUNDLE, example["data"], {}).id)
    cases, items = cast(Table, Case.__table__), cast(Table, WorkItem.__table__)
    case_columns = [c.name for c in cases.columns if c.name not in ("id", "code")]
    item_columns = [c.name for c in items.columns if c.name not in ("id", "case_id")]
    with engine.db.write() as s:
        for n in range(count):
            template = templates[n % len(templates)]
            new_id = s.execute(
                insert(cases)
                .from_select(
                    case_columns, select(*[cases.c[c] for c in case_columns]).where(cases.c.id == template)
                )
                .returning(cases.c.id)
            ).scalar_one()
            s.execute(
                insert(items).from_select(
                    ["case_id", *item_columns],
                    select(literal(new_id), *[items.c[c] for c in item_columns]).where(
                        items.c.case_id == template, items.c.state == WorkItemState.READY
                    ),
                )
            )
            made.append(new_id)
    return made


def first_tasks(engine: Engine, cases: list[int]) -> dict[tuple[str, str], list[int]]:
    """The ready task rows of ``cases``, by (department, item)."""
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    with engine.db.read() as s:
        for start in range(0, len(cases), 500):
            rows = s.execute(
                select(WorkItem.id, WorkItem.department, WorkItem.item_key).where(
                    WorkItem.case_id.in_(cases[start : start + 500]), WorkItem.state == WorkItemState.READY
                )
            )
            for task_id, department, item in rows:
                found[(department, item)].append(task_id)
    return found


def touch(served: ServeProcess, tasks: dict[tuple[str, str], list[int]], decisions: dict[str, Any]) -> int:
    """Claim and approve every task through the server, 100 a request; the tasks approved."""
    approved = 0
    tokens: dict[str, str] = {}
    with httpx.Client(base_url=served.base_url, timeout=600) as c:
        for (department, item), ids in tasks.items():
            bearer = tokens.setdefault(department, token(served.base_url, f"clerk.{department}"))
            for start in range(0, len(ids), BULK):
                chunk = ids[start : start + BULK]
                for action, extra in (("claim", {}), ("approve", {"data": decisions.get(item, {})})):
                    r = c.post(
                        "/api/tasks/bulk",
                        json={"action": action, "tasks": chunk, "comment": "同意", **extra},
                        headers={"Authorization": f"Bearer {bearer}", "Idempotency-Key": str(uuid.uuid4())},
                    )
                    r.raise_for_status()
                    results = r.json()["results"]
                    refused = [x for x in results if x["status"] != "ok"]
                    if refused:
                        raise RuntimeError(f"bulk {action} refused {len(refused)}: {refused[0]}")
                    if action == "approve":
                        approved += len(results)
    return approved


def run(report: Report) -> None:
    """Seed and touch cases in steps; print the server's RSS after each and the ratio."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        url = f"sqlite:///{root / 'memory.db'}"
        served = start_serve(url, data, root / "serve.log", "--demo", env={"PYTHONPATH": str(CHECKOUT)})
        engine = Engine(Settings(database_url=url, data_dir=data))
        try:
            example = dict(engine.bundle_detail(BUNDLE).examples[0])
            decisions: dict[str, Any] = example.get("decisions", {})
            pid = served.process.pid
            report("serve RSS idle after start", rss_kib(pid) / 1024, "MiB")
            done = 0
            templates: list[int] = []
            figures: dict[int, float] = {}
            for step in STEPS:
                began = time.perf_counter()
                cases = seed(engine, example, step - done, templates)
                seeded = time.perf_counter() - began
                approved = touch(served, first_tasks(engine, cases), decisions)
                if approved != len(cases):
                    raise RuntimeError(f"{approved} tasks approved for {len(cases)} cases")
                done = step
                figures[step] = rss_kib(pid) / 1024
                print(
                    f"  ({len(cases)} cases seeded in {seeded:.0f} s, touched through the server in "
                    f"{time.perf_counter() - began - seeded:.0f} s)",
                    flush=True,
                )
                report(f"serve RSS after {step:,} cases", figures[step], "MiB")
            low, high = STEPS
            report(f"RSS {high:,} / {low:,} cases (aim <= 1.2)", figures[high] / figures[low], "x")
        finally:
            engine.close()
            served.stop()
