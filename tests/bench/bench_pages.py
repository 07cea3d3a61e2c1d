"""Page latency on the demo database: median and p90 of each main page, signed in (aim < 50 ms median).

The database is what ``onething serve --demo`` starts from, with history: the shipped bundles,
the demo accounts, every example of every bundle run to its end by simulated clerks (as
``onething demo`` does), and a few open enterprise startup cases of ``applicant1``. The server
is the real CLI (``onething serve``, uvicorn, with its timer worker) in its own process on a
loopback port, so the client's time does not share a GIL with the server's. Each page is asked
for a few hundred times in a row over one keep-alive connection, after a warm-up.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from engine.demo import demo_pdf, run_example
from engine.people.accounts import AccountService
from engine.service import Engine
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.api.support import start_serve
from tests.support.engines import APPLICANT, MONDAY, upload

Report = Callable[[str, float, str], None]
BUNDLE = "enterprise-startup"
REQUESTS = 300
WARM_UP = 20
OPEN_CASES = 5


def build_demo_database(url: str, data_dir: Path) -> tuple[int, int]:
    """The demo database with history; answers an open case of applicant1 and its first task."""
    clock = ManualClock(MONDAY)
    engine = Engine(Settings(database_url=url, data_dir=data_dir), clock=clock)
    try:
        engine.upgrade()
        engine.deploy_shipped()
        for bundle in engine.list_bundles():
            for index in range(len(engine.bundle_detail(bundle.key).examples)):
                run_example(engine, bundle.key, index, clock)
        example = engine.bundle_detail(BUNDLE).examples[0]
        case_id = 0
        for _ in range(OPEN_CASES):
            materials = {
                kind: upload(engine, APPLICANT, kind, demo_pdf(kind)) for kind in example["materials"]
            }
            case_id = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
        task_id = engine.get_case(APPLICANT, case_id).tasks[0].id
        departments = {d for b in engine.list_bundles() for d in b.departments}
        AccountService(engine.db).ensure_demo_accounts(departments)
        return case_id, task_id
    finally:
        engine.close()


def signed_in(base: str, username: str) -> httpx.Client:
    """A client signed in through the login form (session cookie, CSRF token)."""
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/login").text
    marker = 'name="csrf_token" value="'
    token = page[page.index(marker) + len(marker) :].split('"', 1)[0]
    answer = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in as {username} failed: {answer.status_code}")
    return client


def latencies(client: httpx.Client, path: str, count: int = REQUESTS) -> list[float]:
    """Seconds per request of ``count`` GETs of one page (after a warm-up), each checked for 200."""
    for _ in range(WARM_UP):
        client.get(path).raise_for_status()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code}")
    return times


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]


def run(report: Report) -> None:
    """Measure and print each page's median and p90 latency."""
    with tempfile.TemporaryDirectory(prefix="onething-bench-pages-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'demo.db'}"
        case_id, task_id = build_demo_database(url, root / "var")
        server = start_serve(url, root / "var", root / "server.log")
        base = server.base_url
        try:
            pages = [
                ("applicant1", "/"),
                ("applicant1", f"/apply/{BUNDLE}"),
                ("applicant1", f"/cases/{case_id}"),
                ("clerk.market-regulation", "/inbox"),
                ("clerk.market-regulation", f"/tasks/{task_id}"),
                ("analyst", "/studio"),
            ]
            medians = []
            for username, path in pages:
                client = signed_in(base, username)
                try:
                    times = latencies(client, path)
                finally:
                    client.close()
                shown = path.replace(str(case_id), "{id}").replace(str(task_id), "{id}")
                medians.append(statistics.median(times))
                report(f"GET {shown} ({username}), median", medians[-1] * 1000, "ms")
                report(f"GET {shown} ({username}), p90", p90(times) * 1000, "ms")
            report("slowest page median (aim < 50 ms)", max(medians) * 1000, "ms")
        finally:
            server.stop()
