"""Department systems over loopback: external tasks against human tasks, and the outbox's delivery lag.

A real ``onething serve --demo`` process on SQLite and on PostgreSQL (a throwaway cluster;
skipped with the reason when the server binaries are missing). The bundle is the
integration tests' bank bundle, deployed twice: once with the account opening as an
external task (topic of the bank's system) and once as a user task in the bank clerks'
queue, so that both sides run the same case shape. Figures, with 1 and 4 clients (each a
thread with its own connection), each cell a fixed pool of tasks:
- human: ``POST /api/tasks/{id}/claim`` then ``.../complete`` as ``clerk.bank`` — tasks/s;
- external: ``POST /engine-rest/external-task/fetchAndLock`` (maxTasks 1) then
  ``.../{id}/complete`` with a typed variable as ``system.bank`` — tasks/s, and the ratio
  external / human measured in the same run;
- outbox: a webhook subscription to a receiver on 127.0.0.1 for every event while the cases
  above are submitted and worked; delivery lag (arrival minus the event's time) p50 and p99.
"""

from __future__ import annotations

import json
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.api.support import start_serve
from tests.bench.bench_http import load
from tests.integration.conftest import COMPANY, Bundle, Onething
from tests.support.pg import find_pg_bin, start_cluster

Report = Callable[[str, float, str], None]
CLIENTS = (1, 4)
CELL_TASKS = 60  # tasks worked in each cell
CELL_SECONDS = 30.0  # a cell's upper bound
ACCOUNT = "1001263409000123456"


class Receiver:
    """A webhook receiver on 127.0.0.1: notes each delivery's arrival and its event's time."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.event_ids: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(204)
                self.end_headers()
                receiver.note(arrived, self.headers.get("X-Onething-Event-Id", ""), body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the bench prints figures only."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def note(self, arrived: float, event_id: str, body: bytes) -> None:
        """One delivery: its lag, once per event id (a redelivery is not a second event)."""
        at = json.loads(body).get("at")
        with self.lock:
            if at and event_id not in self.event_ids:
                self.event_ids.add(event_id)
                self.lags.append(arrived - datetime.fromisoformat(at).timestamp())

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(db_url: str, root: Path) -> Iterator[Onething]:
    """``onething serve --demo`` on the database until the block ends."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    served = start_serve(db_url, data, root / "serve.log", "--demo")
    try:
        yield Onething(served)
    finally:
        served.stop()


def fill(onething: Onething, bundle: Bundle, count: int) -> None:
    """Submit ``count`` cases of ``bundle`` (8 at a time)."""
    bearer = onething.token("applicant1")
    body = {"bundle": bundle.key, "data": COMPANY, "materials": {}}

    def submit(n: int) -> None:
        headers = {"Authorization": f"Bearer {bearer}"}
        with httpx.Client(base_url=onething.base_url, headers=headers, timeout=120) as c:
            for _ in range(n):
                c.post("/api/cases", json=body).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(submit, [count // 8 + (1 if i < count % 8 else 0) for i in range(8)]))


def human_pool(onething: Onething, bundle: Bundle) -> queue.SimpleQueue[int]:
    """The ready bank tasks of ``bundle``, for one taker each."""
    found: queue.SimpleQueue[int] = queue.SimpleQueue()
    with onething.client("clerk.bank", timeout=120) as clerk:
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"department": "bank", "state": "ready", "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = clerk.get("/api/tasks", params=params).json()
            for task in page["items"]:
                if task["bundle"] == bundle.key:
                    found.put(int(task["id"]))
            cursor = page["next"]
            if not cursor:
                return found


def human_cell(onething: Onething, bundle: Bundle, clients: int) -> dict[str, float]:
    """Claim + complete ``CELL_TASKS`` human tasks with ``clients`` clerks' connections."""
    fill(onething, bundle, CELL_TASKS)
    tasks = human_pool(onething, bundle)
    decision = {"outcome": "approve", "data": {"bank_account_no": ACCOUNT}, "comment": "同意"}

    def claim_and_complete(c: httpx.Client) -> bool | None:
        try:
            task_id = tasks.get_nowait()
        except queue.Empty:
            return None
        if c.post(f"/api/tasks/{task_id}/claim").status_code != 200:
            return False
        return c.post(f"/api/tasks/{task_id}/complete", json=decision).status_code == 200

    return load(clients, CELL_SECONDS, lambda: onething.client("clerk.bank", timeout=120), claim_and_complete)


def external_cell(onething: Onething, bundle: Bundle, clients: int) -> dict[str, float]:
    """fetchAndLock + complete ``CELL_TASKS`` external tasks with ``clients`` workers."""
    fill(onething, bundle, CELL_TASKS)
    variables = {"bank_account_no": {"value": ACCOUNT, "type": "String"}}
    workers = iter(range(1_000_000))

    def fetch_and_complete(c: httpx.Client) -> bool | None:
        worker_id = c.headers["X-Bench-Worker"]
        fetch = {
            "workerId": worker_id,
            "maxTasks": 1,
            "topics": [{"topicName": bundle.topic, "lockDuration": 60_000, "variables": ["company_name"]}],
        }
        answer = c.post("/engine-rest/external-task/fetchAndLock", json=fetch)
        if answer.status_code != 200:
            return False
        locked = answer.json()
        if not locked:
            return None
        done = c.post(
            f"/engine-rest/external-task/{locked[0]['id']}/complete",
            json={"workerId": worker_id, "variables": variables},
        )
        return done.status_code == 204

    def client() -> httpx.Client:
        c = onething.client("system.bank", timeout=120)
        c.headers["X-Bench-Worker"] = f"bench-{next(workers)}"
        return c

    return load(clients, CELL_SECONDS, client, fetch_and_complete)


def subscribe(onething: Onething, url: str) -> bool:
    """A webhook subscription of every event to ``url``; False when the server refuses it."""
    with onething.client("admin") as admin:
        answer = admin.post(
            "/api/webhooks", json={"name": "bench", "url": url, "secret": "bench-secret-0123456789"}
        )
    if answer.status_code not in (200, 201):
        print(
            f"  (outbox lag skipped: POST /api/webhooks answered {answer.status_code}: {answer.text[:200]})"
        )
        return False
    return True


def percentile(values: list[float], p: float) -> float:
    """The ``p`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def measure(backend: str, db_url: str, root: Path, report: Report) -> None:
    """Every cell of one backend."""
    with serving(db_url, root) as onething, Receiver() as receiver:
        subscribed = subscribe(onething, receiver.url)
        human = onething.deploy(human=True)
        external = onething.deploy()
        rates: dict[tuple[str, int], float] = {}
        for kind, cell in (
            ("human claim+complete", human_cell),
            ("external fetchAndLock+complete", external_cell),
        ):
            bundle = human if kind.startswith("human") else external
            for n in CLIENTS:
                got = cell(onething, bundle, n)
                rates[(kind, n)] = got["rate"]
                label = ("clerk" if kind.startswith("human") else "worker") + ("s" if n > 1 else "")
                report(f"{backend} {kind}, {n} {label}: tasks/s", got["rate"], "tasks/s")
                report(f"{backend} {kind}, {n} {label}: p50", got["p50"], "ms")
                if got["errors"]:
                    report(f"{backend} {kind}, {n} {label}: errors", got["errors"], "tasks")
        for n in CLIENTS:
            ratio = rates[("external fetchAndLock+complete", n)] / rates[("human claim+complete", n)]
            report(f"{backend} ratio external / human, {n} client(s)", ratio, "x")
        if subscribed:
            time.sleep(2.0)  # the last deliveries of the run
            with receiver.lock:
                lags = list(receiver.lags)
            if not lags:
                print(f"  ({backend}: no webhook delivery arrived)")
                return
            report(f"{backend} outbox events delivered during the run", len(lags), "events")
            report(f"{backend} outbox delivery lag p50", percentile(lags, 0.50) * 1000, "ms")
            report(f"{backend} outbox delivery lag p99", percentile(lags, 0.99) * 1000, "ms")


def run(report: Report) -> None:
    """SQLite, then PostgreSQL when its server binaries are installed."""
    with tempfile.TemporaryDirectory(prefix="bench-external-") as tmp:
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
