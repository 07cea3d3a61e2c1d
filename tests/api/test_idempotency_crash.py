"""A server killed in the middle of an idempotent decision: the retry is answered within seconds.

A real ``onething serve`` (through ``tests.support.crash_server``) SIGKILLs itself at one of two
steps of a completion sent with an ``Idempotency-Key``: after the key was reserved and before the
work committed, or after the work committed and before its answer was stored. A second server
already running on the same database (SQLite file, or PostgreSQL) gets the retry with the same
key at once: it answers within 10 seconds of the kill (it waits out the dead holder's short
lease and does the work, or answers from the recorded outcome at once), with the decision made
exactly once.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.support import ServeProcess, start_serve
from tests.api.walking import apply, bundle_example, open_tasks_of
from tests.support.crash_server import start_crash_server

pytestmark = pytest.mark.slow

BUNDLE = "school-enrollment"
CLERK = "clerk.public-security"
RETRY_WITHIN = 10.0


def signed_in(served: ServeProcess, username: str) -> httpx.Client:
    """A client of the server signed in as a demo account."""
    r = httpx.post(
        f"{served.base_url}/api/auth/token", data={"username": username, "password": "demo"}, timeout=30
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    return httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def claimed_task(served: ServeProcess) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new case's first public-security task, claimed by its clerk, and the decision that approves it."""
    with signed_in(served, "applicant1") as applicant:
        example = bundle_example(applicant, BUNDLE, 0)
        made = apply(applicant, BUNDLE, example, "crash")
        assert made.status_code == 201, made.text
        case_id = made.json()["id"]
    with signed_in(served, CLERK) as clerk:
        (task,) = [t for t in open_tasks_of(clerk, case_id, BUNDLE) if t["state"] == "ready"]
        assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
    decision = {"outcome": "approve", "data": example["decisions"].get(task["item"], {}), "comment": "同意"}
    return task, decision


def approvals(served: ServeProcess, case_id: int, task_id: int) -> int:
    """How many times the case's trail says the task was approved."""
    with signed_in(served, "applicant1") as applicant:
        timeline = applicant.get(f"/api/cases/{case_id}").json()["timeline"]
    return sum(1 for e in timeline if e["kind"] == "approved" and e["work_item_id"] == task_id)


@pytest.mark.parametrize("step", ["reserved", "worked"])
def test_a_decision_whose_server_was_killed_is_answered_within_seconds_and_made_once(
    db_url: str, tmp_path: Path, step: str
) -> None:
    shared = tmp_path / "shared"  # one data folder: materials and the token signing key
    shared.mkdir()
    key = {"Idempotency-Key": f"decide-{step}"}
    crashing = start_crash_server(db_url, shared, tmp_path / "crash.log", f"{step}:kill")
    survivor: ServeProcess | None = None
    try:
        survivor = start_serve(db_url, shared, tmp_path / "serve.log")
        task, decision = claimed_task(crashing)
        with signed_in(crashing, CLERK) as clerk, pytest.raises(httpx.TransportError):
            clerk.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=key)
        killed = time.monotonic()
        assert crashing.process.wait(30) == -signal.SIGKILL

        # The client retries at once on the other server (as a load balancer would send it).
        with signed_in(survivor, CLERK) as clerk:
            retry = clerk.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=key)
            took = time.monotonic() - killed
            print(f"retry after a kill at {step!r} answered {retry.status_code} {took:.2f}s after the kill")
            assert retry.status_code == 200, retry.text
            assert took < RETRY_WITHIN
            done = retry.json()
            assert (done["id"], done["state"], done["outcome"]) == (task["id"], "completed", "approve")
            again = clerk.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=key)
            assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
            assert again.json() == done
        assert approvals(survivor, task["case_id"], task["id"]) == 1
    finally:
        crashing.stop()
        if survivor is not None:
            survivor.stop()
