"""Scale-out: two ``onething serve`` processes on one PostgreSQL database finish 200 cases together.

Both processes are the real CLI on their own loopback ports, sharing the database and the data
folder (materials and the token signing key, as a shared volume would). Applicants submit
through both; two clerks per department, one on each process, race for the same queue. At the
end every case is completed, every task was claimed and approved exactly once (counted in the
audit trail, and in the JSON-lines audit logs of both processes), and every trail is whole.
Extra clerks are made with ``onething user add``, the CLI an operator would use.
"""

from __future__ import annotations

import collections
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from engine.storage.models import Case, CaseEvent, WorkItem
from tests.api.support import ServeProcess, onething_command, pdf, start_serve, upload

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CASES = 200
BUNDLE = "school-enrollment"
DEPARTMENTS = ("public-security", "natural-resources", "education")
DEADLINE = 150.0
PASSWORD = "a-long-passphrase"


@pytest.fixture
def two_servers(pg_url: str, tmp_path: Path) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two ``onething serve --demo`` processes on one database and one data folder."""
    shared = tmp_path / "shared"
    shared.mkdir()
    env = {"ONETHING_WORKER_INTERVAL": "1"}
    first = start_serve(pg_url, shared, tmp_path / "serve-a.log", "--demo", env=env)
    try:
        second = start_serve(pg_url, shared, tmp_path / "serve-b.log", "--demo", env=env)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def add_clerk(pg_url: str, cwd: Path, name: str, department: str) -> None:
    """``onething user add NAME --role clerk --department D`` against the shared database."""
    done = subprocess.run(
        [*onething_command(), "user", "--db", pg_url, "add", name, "--role", "clerk",
         "--department", department, "--password", PASSWORD],
        capture_output=True, text=True, timeout=120, cwd=cwd, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert name in done.stdout


def sign_in(base_url: str, username: str, password: str = "demo") -> str:
    """A bearer token from one of the servers."""
    r = httpx.post(
        f"{base_url}/api/auth/token", data={"username": username, "password": password}, timeout=30
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def client(base_url: str, token: str) -> httpx.Client:
    """A client of one server."""
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def audit_lines(served: ServeProcess) -> list[dict[str, Any]]:
    """The ``api.change`` JSON lines a process wrote."""
    lines = []
    for line in served.log_lines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)  # every structured line is one JSON object
        if record.get("event") == "api.change":
            lines.append(record)
    return lines


def test_two_serve_processes_on_one_database_complete_two_hundred_cases(
    two_servers: tuple[ServeProcess, ServeProcess], pg_url: str, tmp_path: Path
) -> None:
    servers = [s.base_url for s in two_servers]
    with ThreadPoolExecutor(len(DEPARTMENTS)) as pool:
        list(pool.map(lambda d: add_clerk(pg_url, tmp_path, f"{d}.b", d), DEPARTMENTS))

    # Tokens come from one server and are used on both (one signing key in the shared folder).
    tokens = {name: sign_in(servers[0], name) for name in ("applicant1", "applicant2", "analyst")}
    detail = httpx.get(
        f"{servers[1]}/api/bundles/{BUNDLE}",
        headers={"Authorization": f"Bearer {tokens['analyst']}"},
        timeout=30,
    ).json()
    example = detail["examples"][0]  # household and property checks, then the school place
    decisions: dict[str, Any] = example["decisions"]
    errors: list[str] = []
    stats: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def note(kind: str, problem: str | None = None) -> None:
        with lock:
            stats[kind] += 1
            if problem:
                errors.append(problem)

    def apply_many(worker: int) -> list[int]:
        applicant = ("applicant1", "applicant2")[worker % 2]
        made: list[int] = []
        sessions = [client(url, tokens[applicant]) for url in servers]
        try:
            material = upload(sessions[worker % 2], "birth_certificate", pdf(f"scale:{applicant}"))["id"]
            for n in range(CASES // 4):
                session = sessions[n % 2]  # alternate the servers
                r = session.post(
                    "/api/cases",
                    json={
                        "bundle": BUNDLE,
                        "data": example["data"],
                        "materials": {"birth_certificate": material},
                    },
                )
                if r.status_code != 201:
                    note("apply-failed", f"apply via {session.base_url}: {r.status_code} {r.text[:200]}")
                    continue
                made.append(int(r.json()["id"]))
        finally:
            for s in sessions:
                s.close()
        return made

    stop = threading.Event()

    def work_queue(name: str, department: str, url: str, password: str) -> None:
        with client(url, sign_in(url, name, password)) as session:
            while not stop.is_set():
                page = session.get(
                    "/api/tasks",
                    params={"department": department, "state": "ready", "bundle": BUNDLE, "limit": 20},
                )
                if page.status_code != 200:
                    note("list-failed", f"{name}: list {page.status_code} {page.text[:200]}")
                    return
                items = page.json()["items"]
                if not items:
                    time.sleep(0.05)
                    continue
                for task in items:
                    claim = session.post(f"/api/tasks/{task['id']}/claim")
                    if claim.status_code == 409:
                        note("claim-lost")
                        continue
                    if claim.status_code != 200:
                        note("claim-failed", f"{name}: claim {claim.status_code} {claim.text[:200]}")
                        continue
                    done = session.post(
                        f"/api/tasks/{task['id']}/complete",
                        json={
                            "outcome": "approve",
                            "data": decisions.get(task["item"], {}),
                            "comment": "同意",
                        },
                    )
                    if done.status_code != 200:
                        note("complete-failed", f"{name}: complete {done.status_code} {done.text[:200]}")
                    else:
                        note(f"completed-via-{url}")

    started = time.monotonic()
    clerks = [
        threading.Thread(target=work_queue, args=(f"clerk.{d}", d, servers[0], "demo"), daemon=True)
        for d in DEPARTMENTS
    ] + [
        threading.Thread(target=work_queue, args=(f"{d}.b", d, servers[1], PASSWORD), daemon=True)
        for d in DEPARTMENTS
    ]
    for t in clerks:
        t.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            case_ids = [cid for made in pool.map(apply_many, range(4)) for cid in made]
        assert len(case_ids) == CASES, errors[:5]
        with client(servers[1], tokens["analyst"]) as analyst:
            while time.monotonic() - started < DEADLINE and not errors:
                page = analyst.get("/api/cases", params={"status": "completed", "limit": 200}).json()
                if len(page["items"]) == CASES:
                    break
                time.sleep(0.5)
    finally:
        stop.set()
        for t in clerks:
            t.join(30)
    elapsed = time.monotonic() - started
    print(f"{CASES} cases over two processes in {elapsed:.1f}s: {dict(stats)}")
    assert not errors, "\n".join(errors[:10])

    database = create_engine(pg_url)
    try:
        with database.connect() as conn:
            statuses = collections.Counter(
                dict(conn.execute(select(Case.status, func.count()).group_by(Case.status)).all())
            )
            items = conn.execute(
                select(WorkItem.id, WorkItem.case_id, WorkItem.state, WorkItem.item_key)
            ).all()
            events = conn.execute(
                select(CaseEvent.case_id, CaseEvent.kind, CaseEvent.work_item_id).order_by(CaseEvent.id)
            ).all()
    finally:
        database.dispose()
    assert statuses == {"completed": CASES}, f"after {elapsed:.0f}s: {dict(statuses)}"
    assert len(items) == CASES * 3 and {i.state for i in items} == {"completed"}
    per_task = collections.Counter((e.work_item_id, e.kind) for e in events if e.work_item_id is not None)
    for item in items:
        assert per_task[(item.id, "claimed")] == 1, item
        assert per_task[(item.id, "approved")] == 1, item  # no task done twice
    trails: dict[int, list[str]] = collections.defaultdict(list)
    for e in events:
        # The worker's pre-review of an uploaded material (material_reviewed) lands whenever it
        # reaches the queue, possibly after the case completed; the process trail is the rest.
        if e.kind != "material_reviewed":
            trails[e.case_id].append(e.kind)
    for case_id in case_ids:
        trail = trails[case_id]
        assert trail[0] == "submitted" and trail[-1] == "completed", (case_id, trail)
        assert trail.count("task_created") == 3 and trail.count("approved") == 3, (case_id, trail)

    # Each process logged its own share of the decisions, one JSON line per state change.
    completes = []
    for served in two_servers:
        lines = [
            line
            for line in audit_lines(served)
            if line["route"] == "/api/tasks/{task_id}/complete" and line["status"] == 200
        ]
        assert lines, f"{served.base_url} logged no decisions"
        completes.extend(lines)
    assert sorted(line["task_id"] for line in completes) == sorted(i.id for i in items)
    by_task = {i.id: i.case_id for i in items}
    for line in completes:
        assert line["outcome"] == "ok" and line["decision"] == "approve" and line["method"] == "POST"
        assert line["who"] and line["request_id"] and line["duration_ms"] >= 0
        assert line["case_id"] == by_task[line["task_id"]]
    assert stats[f"completed-via-{servers[0]}"] and stats[f"completed-via-{servers[1]}"]
    assert elapsed < DEADLINE
