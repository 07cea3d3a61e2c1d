"""HTTP load on loopback: a real ``onething serve`` process and a Python load client (threads + httpx).

Figures, on SQLite and on PostgreSQL (a throwaway cluster; skipped with the reason when the
server binaries are missing), at 1, 8 and 32 concurrent clients, each client a thread with its
own connection, each cell bounded to a few seconds:
- queue listing: ``GET /api/tasks`` (a clerk's page of 50) — requests/s, p50 and p99 latency;
- claim+complete: ``POST .../claim`` then ``POST .../complete`` (approve) on a task no other
  client touches — operations/s, p50 and p99 latency of the pair.
The server is its own process, so the load client does not share its interpreter.

First, on SQLite, one task action side by side: the median of a claim and a completion called on
the engine in this process, against the same two as HTTP requests (one client, one connection)
to a serve process on a database of its own, same bundle, settings, demo offices and accounts
(the engine acts as the clerks the requests sign in as), one action of each in turn so that a
shared machine's drift hits both; their ratio is issue 18's aim 2 (HTTP <= 1.5 x the engine).
The requests are timed with a lean keep-alive ``http.client`` connection (``LeanClient``), whose
own CPU is printed, and again with httpx for reference. The round trip of ``/healthz`` is
printed beside it: the least any request costs (the client, the socket, uvicorn, the middleware).
The serve process's CPU per action is split between its event-loop thread (HTTP, routing,
dependencies, the audit line, the answer) and its other threads (the engine call of each sync
route, in the thread pool), to show which side a gap is on.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import queue
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from engine.cases.states import Outcome
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.settings import Settings
from tests.api.support import ServeProcess, open_demo_offices, pdf, start_serve, upload
from tests.support.pg import find_pg_bin, start_cluster

Report = Callable[[str, float, str], None]
BUNDLE = "school-enrollment"
CONCURRENCY = (1, 8, 32)
CELL_SECONDS = 3.0
# Each case gives two ready tasks (household and property checks): 1,280 for the three claim
# cells, which at about 140 operations/s (one client, a quick moment of this machine) take 1,260.
CASES = 640
DEPARTMENTS = ("public-security", "natural-resources")
SIDE_ROUNDS = 3
SIDE_ACTIONS = 30  # task actions per round on each side
# Two ready tasks per case; the lean client and httpx each take a round's worth: a few to spare.
SIDE_CASES = SIDE_ROUNDS * SIDE_ACTIONS + 8


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


def reviewed(c: httpx.Client, material: str, timeout: float = 180.0) -> None:
    """Wait until the server's worker has read ``material`` (智能预审).

    The serve process reads each uploaded document once, in its worker thread; a read costs
    seconds of CPU, and taken during a measurement it would be counted as the cost of the
    requests around it.
    """
    deadline = time.monotonic() + timeout
    while c.get(f"/api/materials/{material}").json()["review"]["status"] == "pending":
        if time.monotonic() > deadline:
            raise RuntimeError(f"material {material} still awaits its pre-review after {timeout:.0f} s")
        time.sleep(0.2)


def fill(base_url: str, cases: int = CASES) -> dict[str, Any]:
    """Submit ``cases`` applications (8 at a time); the example's decisions."""
    bearer = token(base_url, "applicant1")
    with client(base_url, bearer) as c:
        example = c.get(f"/api/bundles/{BUNDLE}").json()["examples"][0]
        material = upload(c, "birth_certificate", pdf("bench-http"))["id"]
        reviewed(c, material)
    body = {"bundle": BUNDLE, "data": example["data"], "materials": {"birth_certificate": material}}

    def submit(count: int) -> None:
        with client(base_url, bearer) as c:
            for _ in range(count):
                c.post("/api/cases", json=body).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(submit, [cases // 8 + (1 if n < cases % 8 else 0) for n in range(8)]))
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


class EngineSide:
    """The engine in this process on a database of its own: the same bundle, cases and people as the server.

    Its offices and accounts are those ``onething serve --demo`` makes, and it acts as those
    accounts (a clerk with their office): each new task's message to its office's clerks and
    the office checks of a claim cost the engine here what they cost the server.
    """

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        settings = Settings(database_url=f"sqlite:///{root / 'onething.db'}", data_dir=root / "data")
        self.engine = Engine(settings)
        self.engine.upgrade()
        self.engine.deploy_shipped()
        accounts = open_demo_offices(self.engine)
        self.clerks = {d: accounts.get(f"clerk.{d}").actor() for d in DEPARTMENTS}
        example = self.engine.bundle_detail(BUNDLE).examples[0]
        self.decisions: dict[str, Any] = dict(example["decisions"])
        applicant = accounts.get("applicant1").actor()
        stream = io.BytesIO(pdf("bench-http-engine"))
        material = self.engine.materials.upload(applicant.username, "birth_certificate", "b.pdf", stream)
        for _ in range(SIDE_CASES):
            self.engine.start_case(applicant, BUNDLE, example["data"], {"birth_certificate": material.id})
        staff = Actor("analyst", Role.ANALYST)
        ready = self.engine.list_tasks(staff, bundle=BUNDLE, state="ready", limit=200).items
        self.tasks = [(t.department, t.id, t.item) for t in ready if t.department in DEPARTMENTS]

    def action(self) -> float:
        """Seconds of one claim and one approval of the next ready task."""
        department, task_id, item = self.tasks.pop()
        clerk = self.clerks[department]
        started = time.perf_counter()
        self.engine.claim(clerk, task_id)
        self.engine.complete(clerk, task_id, Outcome.APPROVE, self.decisions.get(item, {}), "同意")
        return time.perf_counter() - started


def _stat_seconds(stat: Path) -> float | None:
    """User + system CPU seconds of a ``/proc`` stat file; None where it cannot be read."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where ``/proc`` is missing."""
    return _stat_seconds(Path(f"/proc/{pid}/stat"))


def loop_thread_seconds(pid: int) -> float | None:
    """CPU time of a serve process's main thread: uvicorn's event loop (HTTP, routing, answers).

    The engine call of a sync route runs in the thread pool; the rest of a request (parsing,
    middleware, dependencies, the audit line, writing the answer) runs on this thread.
    """
    return _stat_seconds(Path(f"/proc/{pid}/task/{pid}/stat"))


class LeanClient:
    """A clerk's client that costs its process little: one keep-alive ``http.client`` connection.

    httpx spends about a millisecond of Python per request of its own (``bench http`` prints
    it). On loopback, one request at a time, the client's CPU adds to every round trip it
    times, and it is the bench's, not the server's: a clerk's browser runs no Python on the
    server's cores. So aim 2 is timed with this client, and httpx's figure is printed beside
    it for reference.
    """

    def __init__(self, base_url: str) -> None:
        address = urlsplit(base_url)
        host = address.hostname or "127.0.0.1"
        self.connection = http.client.HTTPConnection(host, address.port, timeout=120)

    def post(self, path: str, headers: dict[str, str], body: bytes | None = None) -> None:
        """POST and read the answer; an answer other than 200 is an error."""
        sent = {**headers, "Content-Type": "application/json"} if body is not None else headers
        self.connection.request("POST", path, body=body, headers=sent)
        answer = self.connection.getresponse()
        text = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"POST {path} answered {answer.status}: {text[:200]!r}")

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def side_by_side(root: Path, report: Report) -> None:
    """One task action in the engine and over HTTP, in turns (see the module docstring).

    Wall time is what a clerk waits; CPU time (this process's for the engine, the server
    process's for HTTP) is what each costs the machine, and moves far less with its load.
    Each round times an engine action and a lean client's in turn, then httpx's on tasks of
    their own. The serve process's CPU is read around the first part of each round: it is idle
    while the engine acts, and what it does after an answer has gone out (the audit line) still
    counts.
    """
    engine_side = EngineSide(root / "engine")
    times: dict[str, list[float]] = {"engine": [], "http": [], "httpx": [], "healthz": []}
    cpu = {"engine": 0.0, "http": 0.0, "loop": 0.0, "client": 0.0, "httpx client": 0.0}
    ratios: list[float] = []
    lean: LeanClient | None = None
    try:
        with serving(f"sqlite:///{root / 'http' / 'onething.db'}", root / "http") as served:
            base, pid = served.base_url, served.process.pid
            decisions = fill(base, SIDE_CASES)
            tokens = {d: token(base, f"clerk.{d}") for d in DEPARTMENTS}
            tasks = ready_tasks(base, tokens)
            lean = LeanClient(base)
            with httpx.Client(base_url=base, timeout=120) as c:
                c.get("/healthz")
                for _ in range(SIDE_ROUNDS):
                    mine, theirs = [], []
                    server_used, loop_used = cpu_seconds(pid), loop_thread_seconds(pid)
                    for _ in range(SIDE_ACTIONS):  # one of each in turn: the machine's drift hits both
                        used = time.process_time()
                        mine.append(engine_side.action())
                        cpu["engine"] += time.process_time() - used
                        used = time.process_time()
                        theirs.append(lean_action(lean, tasks.get_nowait(), tokens, decisions))
                        cpu["client"] += time.process_time() - used
                    server_now, loop_now = cpu_seconds(pid), loop_thread_seconds(pid)
                    if server_used is not None and server_now is not None:
                        cpu["http"] += server_now - server_used
                    if loop_used is not None and loop_now is not None:
                        cpu["loop"] += loop_now - loop_used
                    used = time.process_time()
                    times["httpx"] += [
                        http_action(c, tasks.get_nowait(), tokens, decisions) for _ in range(SIDE_ACTIONS)
                    ]
                    cpu["httpx client"] += time.process_time() - used
                    for _ in range(SIDE_ACTIONS):
                        started = time.perf_counter()
                        c.get("/healthz").raise_for_status()
                        times["healthz"].append(time.perf_counter() - started)
                    times["engine"] += mine
                    times["http"] += theirs
                    ratios.append(statistics.median(theirs) / statistics.median(mine))
    finally:
        if lean is not None:
            lean.close()
        engine_side.engine.close()
    engine_ms, http_ms, httpx_ms = (statistics.median(times[k]) * 1000 for k in ("engine", "http", "httpx"))
    n = SIDE_ROUNDS * SIDE_ACTIONS
    report(f"sqlite task action (claim+complete) in the engine, median of {n}", engine_ms, "ms")
    report(f"sqlite task action (claim+complete) over HTTP, median of {n}", http_ms, "ms")
    report("ratio HTTP / engine, task action (aim <= 1.5)", http_ms / engine_ms, "x")
    report("  ... lowest round", min(ratios), "x")
    report("  ... highest round", max(ratios), "x")
    report("  the timing client's own CPU per task action (http.client)", cpu["client"] / n * 1000, "ms")
    report("  over HTTP timed with httpx instead (reference), median", httpx_ms, "ms")
    report("  ... ratio to the engine with httpx", httpx_ms / engine_ms, "x")
    report("  ... httpx's own CPU per task action", cpu["httpx client"] / n * 1000, "ms")
    if cpu["http"]:
        report("  CPU per task action: the engine (this process)", cpu["engine"] / n * 1000, "ms")
        report("  CPU per task action: the serve process", cpu["http"] / n * 1000, "ms")
        report("  ratio of CPU, HTTP / engine", cpu["http"] / cpu["engine"], "x")
        loop_ms, rest_ms = cpu["loop"] / n * 1000, (cpu["http"] - cpu["loop"]) / n * 1000
        report("    ... serve's event-loop thread (HTTP, routing, answers)", loop_ms, "ms")
        report("    ... serve's other threads (the engine call)", rest_ms, "ms")
    report(
        "  GET /healthz round trip, median (the least a request costs)",
        statistics.median(times["healthz"]) * 1000,
        "ms",
    )


def lean_action(
    c: LeanClient, task: tuple[str, int, str], tokens: dict[str, str], decisions: dict[str, Any]
) -> float:
    """Seconds of one claim and one approval over HTTP, sent by the lean client."""
    department, task_id, item = task
    signed = {"Authorization": f"Bearer {tokens[department]}"}
    body = json.dumps({"outcome": "approve", "data": decisions.get(item, {}), "comment": "同意"}).encode()
    started = time.perf_counter()
    c.post(f"/api/tasks/{task_id}/claim", signed)
    c.post(f"/api/tasks/{task_id}/complete", signed, body)
    return time.perf_counter() - started


def http_action(
    c: httpx.Client, task: tuple[str, int, str], tokens: dict[str, str], decisions: dict[str, Any]
) -> float:
    """Seconds of one claim and one approval over HTTP, as httpx sends them."""
    department, task_id, item = task
    signed = {"Authorization": f"Bearer {tokens[department]}"}
    body = {"outcome": "approve", "data": decisions.get(item, {}), "comment": "同意"}
    started = time.perf_counter()
    c.post(f"/api/tasks/{task_id}/claim", headers=signed).raise_for_status()
    c.post(f"/api/tasks/{task_id}/complete", json=body, headers=signed).raise_for_status()
    return time.perf_counter() - started


def run(report: Report) -> None:
    """SQLite, then PostgreSQL when its server binaries are installed."""
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        root = Path(tmp)
        side_by_side(root / "side", report)
        measure("sqlite", f"sqlite:///{root / 'sqlite' / 'onething.db'}", root / "sqlite", report)
        if find_pg_bin() is None:
            print("  (PostgreSQL figures skipped: server binaries not found; install postgresql-15)")
            return
        cluster = start_cluster()
        try:
            measure("postgres", cluster.create_database(), root / "postgres", report)
        finally:
            cluster.stop()
