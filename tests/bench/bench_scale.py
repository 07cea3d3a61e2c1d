"""Scale-out on PostgreSQL: ``onething serve`` with one web process, then two, behind one address.

A throwaway PostgreSQL cluster is migrated, the shipped bundles deployed and enterprise-startup
cases seeded through the engine, each walked past its registration (and the tax system's
step), so every case has its parallel department tasks ready. Then ``onething serve`` runs
with ``--workers 1`` and with ``--workers 2`` (the documented option: one listening socket,
uvicorn's supervisor) and a load client on loopback drives, in bounded cells:
- claim + complete (approve) at 8 clients, each cell on its own cases' tasks (so every cell
  does the same kind of work): operations/s with one process and with two, and their ratio;
- the same at 32 clients with two processes: p50 and p99 of the completion request alone.
Each client is an asyncio task on one event loop with a small HTTP/1.1 client of its own
(httpx costs more CPU per request than the server's share on this machine would allow) and
opens a new connection for each claim + complete pair, so the kernel hands each operation to
whichever process accepts it (the share each process served is printed from its log).
Beside the figures: the CPU seconds of each serve process, of PostgreSQL and of the load
client in each cell, against the cores the machine has; with two cores for all of them, that
is the ceiling the ratio runs into. The 32-client cell's mean time per operation (clients over
throughput, Little's law) is printed under its p99: what the machine's throughput alone makes a
claim + completion take there; under the ratio, the most the cores allow it to be: their number
over the cores the one-process cell kept busy (serve, PostgreSQL and the load client).
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from engine.cases.states import Outcome, WorkItemState
from engine.demo import demo_pdf, department_systems_work
from engine.people.accounts import AccountService
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import WorkItem
from engine.storage.settings import Settings
from tests.api.support import ServeProcess, ready_workers, start_serve
from tests.support.pg import PgCluster, find_pg_bin, start_cluster

Report = Callable[[str, float, str], None]
BUNDLE = "enterprise-startup"
PASSWORD = "bench-scale-passphrase"
CELL_SECONDS = 6.0
WARM_SECONDS = 2.0
# Six ready department tasks each: 900 a cell, more than one takes here (up to about 140
# operations/s for 6 s; 100 cases ran out after 4.2 s).
CASES_PER_CELL = 150
WARM_CASES = 10
# (label, web processes, clients, seconds, cases); a warm-up first on each server (not reported):
# every new process parses the bundle and fills its caches on its first requests.
CELLS = (
    ("warm-up", 1, 8, WARM_SECONDS, WARM_CASES),
    ("1 process", 1, 8, CELL_SECONDS, CASES_PER_CELL),
    ("warm-up", 2, 8, WARM_SECONDS, WARM_CASES),
    ("2 processes", 2, 8, CELL_SECONDS, CASES_PER_CELL),
    ("2 processes", 2, 32, CELL_SECONDS, CASES_PER_CELL),
)
SEED_THREADS = 2


@dataclass
class Pool:
    """The ready user tasks of one cell's cases, shuffled: (task id, department, item)."""

    tasks: list[tuple[int, str, str]]


def seed(url: str, data: Path) -> tuple[list[Pool], dict[str, Any], set[str]]:
    """Migrate, deploy, make one clerk per department and the cells' cases, walked past registration.

    Returns one pool of ready tasks per cell, the example's decisions and the departments.
    """
    engine = Engine(Settings(database_url=url, data_dir=data))
    try:
        engine.upgrade()
        engine.deploy_shipped()
        detail = engine.bundle_detail(BUNDLE)
        example = dict(detail.examples[0])
        decisions: dict[str, Any] = {k: dict(v) for k, v in example["decisions"].items()}
        departments = set(detail.summary.departments)
        accounts = AccountService(engine.db, departments=departments, regions=engine.regions)
        for department in sorted(departments):
            accounts.create(f"bench.{department}", PASSWORD, Role.CLERK, [department])
        applicant = Actor("bench-applicant", Role.APPLICANT)
        materials = {
            kind: engine.materials.upload(applicant.username, kind, "x.pdf", io.BytesIO(demo_pdf(kind))).id
            for kind in example["materials"]
        }
        # Read them now (智能预审), once: a serve process's worker reading them during a cell
        # would spend seconds of CPU there that no claim or completion asked for.
        while engine.run_review_jobs():
            pass

        def walked(_n: int) -> int:
            case = engine.start_case(applicant, BUNDLE, dict(example["data"]), materials)
            first = [t for t in engine.get_case(Actor.system(), case.id).tasks if t.state == "ready"]
            for task in first:
                clerk = Actor(f"bench.{task.department}", Role.CLERK, frozenset({task.department}))
                engine.claim(clerk, task.id)
                engine.complete(clerk, task.id, Outcome.APPROVE, decisions.get(task.item, {}))
            department_systems_work(engine, case.id, decisions)
            return case.id

        total = sum(cell[4] for cell in CELLS)
        with ThreadPoolExecutor(SEED_THREADS) as pool:
            case_ids = list(pool.map(walked, range(total)))
        with engine.db.read() as session:
            rows = session.execute(
                select(WorkItem.id, WorkItem.case_id, WorkItem.department, WorkItem.item_key).where(
                    WorkItem.state == WorkItemState.READY, WorkItem.kind == "human"
                )
            ).all()
        by_case: dict[int, list[tuple[int, str, str]]] = collections.defaultdict(list)
        for row in rows:
            by_case[row.case_id].append((row.id, row.department, row.item_key))
        pools = []
        shuffler = random.Random(18)
        taken = 0
        for *_, cases in CELLS:
            mine = case_ids[taken : taken + cases]
            taken += cases
            tasks = [t for case_id in mine for t in by_case[case_id]]
            shuffler.shuffle(tasks)
            pools.append(Pool(tasks))
        return pools, decisions, departments
    finally:
        engine.close()


@contextmanager
def serving(url: str, data: Path, log: Path, workers: int) -> Iterator[ServeProcess]:
    """``onething serve --workers N`` on the seeded database until the block ends."""
    served = start_serve(url, data, log, "--workers", str(workers))
    try:
        ready_workers(served, workers)
        yield served
    finally:
        served.stop()


class Http:
    """A minimal HTTP/1.1 client on one connection: a request and its answer's status and body."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def post(self, path: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
            elif name.strip().lower() == "transfer-encoding":
                raise RuntimeError("the bench client reads Content-Length answers only")
        return status, await self.reader.readexactly(length)


@dataclass
class Cell:
    """What one cell measured."""

    ops: int
    errors: int
    seconds: float
    completions: list[float]
    ran_out: bool

    @property
    def rate(self) -> float:
        return self.ops / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.completions)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else float("nan")


def drive(
    base_url: str, tokens: dict[str, str], decisions: dict[str, Any], pool: Pool, clients: int, seconds: float
) -> Cell:
    """Claim + complete the pool's tasks from ``clients`` concurrent clients for ``seconds``."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", int(parts.port or 80)
    tasks = collections.deque(pool.tasks)
    completions: list[float] = []
    counts = {"ops": 0, "errors": 0}
    stop = asyncio.Event()

    async def client() -> None:
        http = Http(host, port)
        while not stop.is_set() and tasks:
            task_id, department, item = tasks.popleft()
            token = tokens[department]
            await http.connect()  # a new connection per operation: the kernel picks the process
            try:
                status, text = await http.post(f"/api/tasks/{task_id}/claim", token)
                if status != 200:
                    counts["errors"] += 1
                    continue
                body = json.dumps({"outcome": "approve", "data": decisions.get(item, {}), "comment": "同意"})
                started = time.perf_counter()
                status, text = await http.post(f"/api/tasks/{task_id}/complete", token, body.encode())
                elapsed = time.perf_counter() - started
                if status != 200:
                    counts["errors"] += 1
                    print(f"  complete {task_id}: {status} {text[:160]!r}")
                    continue
                if not stop.is_set():
                    completions.append(elapsed)
                    counts["ops"] += 1
            finally:
                await http.close()

    async def main() -> float:
        runners = [asyncio.create_task(client()) for _ in range(clients)]
        began = time.perf_counter()
        await asyncio.wait(runners, timeout=seconds)
        stop.set()
        wall = time.perf_counter() - began
        await asyncio.wait(runners, timeout=120)
        return wall

    wall = asyncio.run(main())
    return Cell(counts["ops"], counts["errors"], wall, completions, not tasks)


TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name ([]: the process has ended)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pids: list[int], *, reaped: bool = False) -> float:
    """User + system CPU seconds of the processes (``reaped``: with their ended children's)."""
    total = 0.0
    for pid in pids:
        fields = _stat(pid)
        if fields:  # utime, stime, cutime, cstime are fields 14-17 of stat(5)
            total += int(fields[11]) + int(fields[12])
            if reaped:
                total += int(fields[13]) + int(fields[14])
    return total / TICKS


def children(pid: int) -> list[int]:
    """The child process ids of ``pid``."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def serve_processes(served: ServeProcess) -> list[int]:
    """The supervisor and its web workers (uvicorn's spawn helper only waits, and costs nothing)."""
    return [served.process.pid, *children(served.process.pid)]


def postgres_cpu(cluster: PgCluster) -> float:
    """CPU seconds of the cluster so far: the postmaster, its live backends and those it reaped."""
    postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    return cpu_seconds([postmaster], reaped=True) + cpu_seconds(children(postmaster))


def served_share(served: ServeProcess, since: int) -> collections.Counter[int]:
    """Completions per process id in the log after line ``since``."""
    share: collections.Counter[int] = collections.Counter()
    for line in served.log_lines()[since:]:
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "api.change" and str(record.get("route", "")).endswith("/complete"):
                share[int(record["pid"])] += 1
    return share


def sign_in(base_url: str, departments: set[str]) -> dict[str, str]:
    """A token per department's bench clerk."""
    tokens = {}
    for department in departments:
        r = httpx.post(
            f"{base_url}/api/auth/token",
            data={"username": f"bench.{department}", "password": PASSWORD},
            timeout=60,
        )
        r.raise_for_status()
        tokens[department] = str(r.json()["access_token"])
    return tokens


def measure(cluster: PgCluster, root: Path, report: Report) -> None:
    """Seed, then every cell; prints the figures, their ratio and where the CPU went."""
    url = cluster.create_database()
    data = root / "data"
    started = time.perf_counter()
    pools, decisions, departments = seed(url, data)
    print(f"  (seeded {sum(cell[4] for cell in CELLS)} cases in {time.perf_counter() - started:.0f} s; "
          f"{', '.join(str(len(p.tasks)) for p in pools)} ready tasks per cell)", flush=True)  # fmt: skip
    cores = os.cpu_count() or 1
    rates: dict[tuple[int, int], Cell] = {}
    busy: dict[tuple[int, int], float] = {}  # cores kept busy in a cell: its CPU seconds over its seconds
    for workers in (1, 2):
        with serving(url, data, root / f"serve-{workers}.log", workers) as served:
            tokens = sign_in(served.base_url, departments)
            mine = [(n, cell) for n, cell in enumerate(CELLS) if cell[1] == workers]
            for n, (label, _, clients, seconds, _cases) in mine:
                servers = serve_processes(served)
                me = os.getpid()
                lines = len(served.log_lines())
                before = (cpu_seconds(servers), postgres_cpu(cluster), cpu_seconds([me]))
                load_before = os.getloadavg()[0]
                cell = drive(served.base_url, tokens, decisions, pools[n], clients, seconds)
                if label == "warm-up":
                    continue
                after = (cpu_seconds(servers), postgres_cpu(cluster), cpu_seconds([me]))
                rates[(workers, clients)] = cell
                busy[(workers, clients)] = (
                    sum(a - b for a, b in zip(after, before, strict=True)) / cell.seconds
                )
                name = f"claim+complete, {label}, {clients:>2} clients"
                report(f"{name}: operations/s", cell.rate, "ops/s")
                report(f"{name}: completion p50", cell.pct(0.50), "ms")
                report(f"{name}: completion p99", cell.pct(0.99), "ms")
                if cell.errors:
                    report(f"{name}: errors", cell.errors, "operations")
                if cell.ran_out:
                    print(f"  (the task pool ran out in this cell: {cell.seconds:.1f} s)")
                share = served_share(served, lines)
                shares = ", ".join(f"pid {pid}: {count}" for pid, count in sorted(share.items()))
                per = [f"pid {pid}: {cpu_seconds([pid]):.1f}" for pid in servers]  # the supervisor first
                print(
                    f"  CPU over {cell.seconds:.1f} s on {cores} cores "
                    f"({cores * cell.seconds:.1f} core-s; load {load_before:.2f} before): "
                    f"serve {after[0] - before[0]:.1f} s, postgres {after[1] - before[1]:.1f} s, "
                    f"load client {after[2] - before[2]:.1f} s; completions per process: {shares}; "
                    f"serve processes' CPU so far (s): {', '.join(per)}",
                    flush=True,
                )
    one, two = rates[(1, 8)], rates[(2, 8)]
    report("scale-out: 2 processes / 1 process at 8 clients (aim >= 1.6)", two.rate / one.rate, "x")
    # One process already keeps part of the second core busy (PostgreSQL, the load client); two
    # can at most fill the rest, at the same CPU per operation.
    report(
        "  ... most these cores allow (cores / cores busy, 1 process)",
        cores / busy[(1, 8)],
        "x",
    )
    crowd = rates[(2, 32)]
    report("completion p99, 2 processes, 32 clients (aim <= 50)", crowd.pct(0.99), "ms")
    # Each client sends its next operation when the last is answered, so an operation's mean
    # time is the clients over the throughput (Little's law), whatever the server does with it.
    report("  ... mean time of an operation there, 32 clients / operations/s", 32 / crowd.rate * 1000, "ms")


def run(report: Report) -> None:
    """The cells on a throwaway PostgreSQL cluster (skipped with the reason when it is missing)."""
    if find_pg_bin() is None:
        print("  (skipped: PostgreSQL server binaries not found; install postgresql-15)")
        return
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        cluster = start_cluster()
        try:
            measure(cluster, Path(tmp), report)
        finally:
            cluster.stop()
