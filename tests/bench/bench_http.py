"""HTTP load on loopback: a real ``onething serve`` process and a Python load client (threads + httpx).

Figures, on SQLite and on PostgreSQL (a throwaway cluster; skipped with the reason when the
server binaries are missing), at 1, 8 and 32 concurrent clients, each client a thread with its
own connection, each cell bounded to a few seconds:
- queue listing: ``GET /api/tasks`` (a clerk's page of 50) — requests/s, p50 and p99 latency;
- claim+complete: ``POST .../claim`` then ``POST .../complete`` (approve) on a task no other
  client touches — operations/s, p50 and p99 latency of the pair.
The server is its own process, so the load client does not share its interpreter.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.api.support import ServeProcess, pdf, start_serve, upload
from tests.support.pg import find_pg_bin, start_cluster

Report = Callable[[str, float, str], None]
BUNDLE = "school-enrollment"
CONCURRENCY = (1, 8, 32)
CELL_SECONDS = 3.0
CASES = 240  # each gives two ready tasks (household and property checks): enough for every claim cell
DEPARTMENTS = ("public-security", "natural-resources")


@contextmanager
def serving(db_url: str, root: Path) -> Iterator[ServeProcess]:
    """``onething serve --demo`` on the database until the block ends."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    served = start_serve(db_url, data, root / "serve.log", "--demo")
    try:
        yield served
    finally:
        served.stop()


def token(base_url: str, username: str) -> str:
    """A bearer token of a demo account."""
    r = httpx.post(f"{base_url}/api/auth/token", data={"username": username, "password": "demo"}, timeout=60)
    r.raise_for_status()
    return str(r.json()["access_token"])


def client(base_url: str, bearer: str) -> httpx.Client:
    """A client with its own connection."""
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {bearer}"}, timeout=120)


def fill(base_url: str) -> dict[str, Any]:
    """Submit ``CASES`` applications (8 at a time); the example's decisions."""
    bearer = token(base_url, "applicant1")
    with client(base_url, bearer) as c:
        example = c.get(f"/api/bundles/{BUNDLE}").json()["examples"][0]
        material = upload(c, "birth_certificate", pdf("bench-http"))["id"]
    body = {"bundle": BUNDLE, "data": example["data"], "materials": {"birth_certificate": material}}

    def submit(count: int) -> None:
        with client(base_url, bearer) as c:
            for _ in range(count):
                c.post("/api/cases", json=body).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(submit, [CASES // 8] * 8))
    decisions: dict[str, Any] = example["decisions"]
    return decisions


def ready_tasks(base_url: str, tokens: dict[str, str]) -> queue.SimpleQueue[tuple[str, int, str]]:
    """Every ready task of the two first departments, as (department, id, item), for one taker each."""
    found: queue.SimpleQueue[tuple[str, int, str]] = queue.SimpleQueue()
    for department in DEPARTMENTS:
        with client(base_url, tokens[department]) as c:
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"department": department, "state": "ready", "limit": 200}
                if cursor:
                    params["cursor"] = cursor
                page = c.get("/api/tasks", params=params).json()
                for t in page["items"]:
                    found.put((department, int(t["id"]), str(t["item"])))
                cursor = page["next"]
                if not cursor:
                    break
    return found


def load(
    clients: int, seconds: float, make: Callable[[], httpx.Client], op: Callable[[httpx.Client], bool | None]
) -> dict[str, float]:
    """Run ``op`` in ``clients`` threads for ``seconds`` (or until it has nothing left, ``None``).

    Returns the rate of successful ops over the run, their p50 and p99 latency, and the errors.
    """
    latencies: list[float] = []
    errors = 0
    ran_out = threading.Event()
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    stop = threading.Event()

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        with make() as c:
            c.get("/healthz")  # connect before the clock starts
            barrier.wait(60)
            while not stop.is_set():
                started = time.perf_counter()
                ok = op(c)
                if ok is None:
                    ran_out.set()
                    break
                if ok:
                    mine.append(time.perf_counter() - started)
                else:
                    failed += 1
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait(60)
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join(120)
    wall = time.perf_counter() - began
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else float("nan")

    return {
        "rate": len(ordered) / wall,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "errors": float(errors),
        "ran_out": float(ran_out.is_set()),
    }


def measure(backend: str, db_url: str, root: Path, report: Report) -> None:
    """Every cell of one backend."""
    with serving(db_url, root) as served:
        base = served.base_url
        decisions = fill(base)
        tokens = {d: token(base, f"clerk.{d}") for d in DEPARTMENTS}
        tasks = ready_tasks(base, tokens)

        def listing(c: httpx.Client) -> bool:
            return c.get("/api/tasks", params={"department": DEPARTMENTS[0], "limit": 50}).status_code == 200

        for n in CONCURRENCY:
            cell = load(n, CELL_SECONDS, lambda: client(base, tokens[DEPARTMENTS[0]]), listing)
            report(f"{backend} GET /api/tasks, {n:>2} clients: requests/s", cell["rate"], "req/s")
            report(f"{backend} GET /api/tasks, {n:>2} clients: p50", cell["p50"], "ms")
            report(f"{backend} GET /api/tasks, {n:>2} clients: p99", cell["p99"], "ms")
            if cell["errors"]:
                report(f"{backend} GET /api/tasks, {n:>2} clients: errors", cell["errors"], "requests")

        def claim_and_complete(c: httpx.Client) -> bool | None:
            try:
                department, task_id, item = tasks.get_nowait()
            except queue.Empty:
                return None
            signed = {"Authorization": f"Bearer {tokens[department]}"}
            if c.post(f"/api/tasks/{task_id}/claim", headers=signed).status_code != 200:
                return False
            body = {"outcome": "approve", "data": decisions.get(item, {}), "comment": "同意"}
            return c.post(f"/api/tasks/{task_id}/complete", json=body, headers=signed).status_code == 200

        for n in CONCURRENCY:
            cell = load(n, CELL_SECONDS, lambda: httpx.Client(base_url=base, timeout=120), claim_and_complete)
            report(f"{backend} claim+complete, {n:>2} clients: operations/s", cell["rate"], "ops/s")
            report(f"{backend} claim+complete, {n:>2} clients: p50", cell["p50"], "ms")
            report(f"{backend} claim+complete, {n:>2} clients: p99", cell["p99"], "ms")
            if cell["errors"]:
                report(f"{backend} claim+complete, {n:>2} clients: errors", cell["errors"], "operations")
            if cell["ran_out"]:
                print(f"  (the {backend} task pool ran out in the {n}-client cell: a shorter run)")


def run(report: Report) -> None:
    """SQLite, then PostgreSQL when its server binaries are installed."""
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        root = Path(tmp)
        measure("sqlite", f"sqlite:///{root / 'sqlite' / 'onething.db'}", root / "sqlite", report)
        if find_pg_bin() is None:
            print("  (PostgreSQL figures skipped: server binaries not found; install postgresql-15)")
            return
        cluster = start_cluster()
        try:
            measure("postgres", cluster.create_database(), root / "postgres", report)
        finally:
            cluster.stop()
