"""``onething serve --workers N``: web processes behind one address, one claim wins, timers fire once.

The real CLI on a real PostgreSQL database: ``--workers 2`` binds one loopback port and two
web processes accept from it (each JSON log line names its process, ``pid``). Eight clerks'
claims of one task race over fresh connections, so the kernel spreads them over both
processes; exactly one wins whichever process it reached. The supervising process runs the
timer worker, once: a timer that came due while nothing ran fires exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from engine.people.accounts import AccountService
from engine.people.actors import Role
from engine.storage.models import CaseEvent
from engine.time.clock import ManualClock
from tests.api.support import ROOT, onething_command, ready_workers, start_serve
from tests.support.engines import ANALYST, APPLICANT, TEST_BUNDLES, bundle_engine

TWO_DESKS = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}
TASKS = 10
RACERS = 8
PASSWORD = "a-long-passphrase-for-racers"


def onething(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``onething`` CLI of this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*onething_command(), *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_serve_help_offers_workers_and_refuses_zero() -> None:
    shown = onething("serve", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "--workers N" in shown.stdout and "web processes" in shown.stdout
    refused = onething("serve", "--workers", "0")
    assert refused.returncode == 2 and "at least 1" in refused.stderr


def json_lines(lines: list[str]) -> list[dict[str, Any]]:
    """The structured lines of a log."""
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.mark.postgres
@pytest.mark.slow
def test_two_web_processes_share_one_address_one_claim_wins_and_timers_fire_once(
    pg_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    clock = ManualClock(now - timedelta(hours=3))  # the timer case waited its two hours already
    engine = bundle_engine(pg_url, tmp_path, "timer-escalation", clock)
    try:
        engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
        timer_case = engine.start_case(APPLICANT, "timer-escalation", {"company_name": "一件事"}, {}).id
        clock.set(now)
        cases = [engine.start_case(APPLICANT, "two-desks", TWO_DESKS, {}).id for _ in range(TASKS)]
        reviews = [engine.get_case(ANALYST, case_id).tasks[0].id for case_id in cases]
        accounts = AccountService(engine.db, departments={"market-regulation"}, regions=engine.regions)
        racers_names = [f"racer{n}.market-regulation" for n in range(RACERS)]  # one clerk per racer
        for name in racers_names:
            accounts.create(name, PASSWORD, Role.CLERK, ["market-regulation"])

        data = tmp_path / "data"
        data.mkdir()
        env = {"ONETHING_WORKER_INTERVAL": "0.2"}
        served = start_serve(pg_url, data, tmp_path / "serve.log", "--demo", "--workers", "2", env=env)
        try:
            workers = ready_workers(served, 2)
            tokens = [
                httpx.post(
                    f"{served.base_url}/api/auth/token",
                    data={"username": name, "password": PASSWORD},
                    timeout=60,
                ).json()["access_token"]
                for name in racers_names
            ]
            answers: dict[int, list[int]] = {task: [] for task in reviews}
            lock = threading.Lock()

            def claim(task: int, token: str, start: threading.Barrier) -> None:
                with httpx.Client(base_url=served.base_url, timeout=60) as fresh:  # its own connection
                    start.wait(30)
                    r = fresh.post(
                        f"/api/tasks/{task}/claim",
                        headers={
                            "Authorization": f"Bearer {token}",
                            "X-Request-ID": f"claim-{task}-{id(start)}",
                        },
                    )
                with lock:
                    answers[task].append(r.status_code)

            for task in reviews:
                start = threading.Barrier(RACERS)
                racers = [threading.Thread(target=claim, args=(task, token, start)) for token in tokens]
                for t in racers:
                    t.start()
                for t in racers:
                    t.join(60)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not engine.get_case(ANALYST, timer_case).tasks:
                time.sleep(0.2)
        finally:
            served.stop()
        lines = json_lines(served.log_lines())

        for task, statuses in answers.items():
            assert sorted(statuses) == [200] + [409] * (RACERS - 1), (task, statuses)
        claims = [
            line
            for line in lines
            if line.get("event") == "api.change" and line.get("route") == "/api/tasks/{task_id}/claim"
        ]
        assert len(claims) == TASKS * RACERS
        by_pid = Counter(line["pid"] for line in claims)
        supervisor = served.process.pid
        assert set(by_pid) == workers and supervisor not in workers, by_pid  # both web processes answered
        # A task won in one process was refused in the other: the claim is decided in the database.
        crossed = {
            line["task_id"]
            for line in claims
            if line["status"] == 200
            and any(
                o["task_id"] == line["task_id"] and o["status"] == 409 and o["pid"] != line["pid"]
                for o in claims
            )
        }
        assert crossed, by_pid
        with engine.db.read() as s:
            claimed = s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "claimed"))
            fired = s.scalar(
                select(func.count())
                .select_from(CaseEvent)
                .where(CaseEvent.case_id == timer_case, CaseEvent.kind == "timer_fired")
            )
        assert claimed == TASKS
        # The timer worker ran in the supervisor alone, and the due timer fired once.
        started = [line["pid"] for line in lines if line["message"].startswith("timer worker started")]
        assert started == [supervisor]
        assert fired == 1
        assert [(t.item, t.state) for t in engine.get_case(ANALYST, timer_case).tasks] == [
            ("review", "ready")
        ]
    finally:
        engine.close()
