"""Version migration over REST: plan, validate, dry run, run, report, resume; analysts and admins only.

A real server on a loopback port with enterprise-startup v1 cases waiting at different points and
the v2 test fixture deployed by the engine (as an analyst's upload would).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from engine.worker import Worker
from tests.api.support import LiveServer, sqlite_server
from tests.engine.migration.support import PLAN_TASKS, STARTUP, V2, start_cases

BASE = f"/api/bundles/{STARTUP}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own with 10 running v1 cases and v2 deployed."""
    with sqlite_server(tmp_path_factory.mktemp("migrations-api")) as running:
        start_cases(running.engine, 10)
        running.engine.deployments.deploy_dir(V2)  # after the shipped variants: its number is the newest
        yield running


def newest(c: httpx.Client) -> int:
    """The version number v2 got."""
    return max(int(v["version"]) for v in c.get(f"{BASE}/version-cases").json())


def test_a_plan_is_checked_dry_run_and_run_with_a_report(server: LiveServer) -> None:
    with server.as_user("analyst") as c:
        versions = c.get(f"{BASE}/version-cases").json()
        before = {v["version"]: v["running"] for v in versions}
        v2 = newest(c)
        assert before[1] > 0 and before[v2] == 0
        bad = c.post(f"{BASE}/migrations", json={"from_version": 1, "to_version": v2})
        assert bad.status_code == 201
        check = c.post(f"{BASE}/migrations/{bad.json()['id']}/validate").json()
        assert not check["valid"] and {"unmapped"} <= {p["rule"] for p in check["problems"]}
        assert c.post(f"{BASE}/migrations/{bad.json()['id']}/dry-run", json={}).status_code == 422
        plan = c.post(
            f"{BASE}/migrations",
            json={"from_version": 1, "to_version": v2, "tasks": PLAN_TASKS, "timers": {"default": "keep"}},
            headers={"Idempotency-Key": "plan-1"},
        )
        assert plan.status_code == 201
        plan_id = plan.json()["id"]
        moves = {m["source"]: m for m in c.get(f"{BASE}/migrations/{plan_id}").json()["moves"]}
        assert moves["Task_open_bank_account"]["how"] == "same-id"
        assert moves["Task_tax_registration"]["target"] == "Task_tax_and_invoices"
        assert c.post(f"{BASE}/migrations/{plan_id}/validate").json()["valid"]
        preview = c.post(f"{BASE}/migrations/{plan_id}/dry-run", json={"limit": 3})
        assert preview.status_code == 200 and len(preview.json()) == 3
        assert c.get(f"{BASE}/version-cases").json() == versions  # the dry run moved nothing
        run = c.post(
            f"{BASE}/migrations/{plan_id}/runs", json={"batch_size": 4}, headers={"Idempotency-Key": "r1"}
        )
        assert run.status_code == 202, run.text
        queued = run.json()
        assert run.headers["Location"] == f"{BASE}/migration-runs/{queued['id']}"
        assert queued["status"] == "running" and queued["counts"]["pending"] == before[1]
        assert c.get(f"{BASE}/version-cases").json() == versions  # the request moved nothing itself
        again = c.post(
            f"{BASE}/migrations/{plan_id}/runs", json={"batch_size": 4}, headers={"Idempotency-Key": "r1"}
        )
        assert again.json()["id"] == queued["id"]  # the same key replays the answer, no second run
        assert again.headers["Location"] == run.headers["Location"]
        assert Worker(server.engine, migration_batch=4).run_once().migrated == 4  # one batch: progress
        progress = c.get(run.headers["Location"]).json()
        assert progress["status"] == "running" and progress["counts"]["migrated"] == 4
        while Worker(server.engine).run_once().migrated:
            pass
        report = c.get(run.headers["Location"]).json()
        assert report["status"] == "finished" and report["counts"]["migrated"] == before[1]
        resumed = c.post(f"{BASE}/migration-runs/{report['id']}/resume")
        assert resumed.status_code == 202 and resumed.json()["counts"] == report["counts"]
        after = {v["version"]: v["running"] for v in c.get(f"{BASE}/version-cases").json()}
        assert after[1] == 0 and after[v2] == before[1]


def test_only_analysts_and_admins_migrate(server: LiveServer) -> None:
    for user in ("applicant1", "clerk.tax"):
        with server.as_user(user) as c:
            assert c.get(f"{BASE}/version-cases").status_code == 403
            assert c.post(f"{BASE}/migrations", json={"from_version": 1, "to_version": 2}).status_code == 403
    with server.as_user("admin") as c:
        assert c.get(f"{BASE}/migrations/987654").status_code == 404
        assert c.get(f"{BASE}/migration-runs/987654").status_code == 404
        assert c.post(f"{BASE}/migrations", json={"from_version": 1, "to_version": 99}).status_code == 404
