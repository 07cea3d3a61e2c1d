"""Reassign, delegate, release and bulk actions over REST, on a live server (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.people.actors import Actor, Role
from tests.api.support import LiveServer, sqlite_server
from tests.api.walking import apply, bundle_example, open_tasks_of

BUNDLE = "school-enrollment"
CLERK = "clerk.public-security"
CLERK2 = "clerk2.public-security"
SUPERVISOR = "supervisor.public-security"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with sqlite_server(tmp_path_factory.mktemp("handover")) as running:
        with running.as_user("admin") as admin:
            made = admin.post(
                "/api/accounts",
                json={
                    "username": CLERK2,
                    "password": "a-long-passphrase",
                    "role": "clerk",
                    "departments": ["public-security"],
                    "display_name": "王二警官",
                },
            )
            assert made.status_code == 201, made.text
        yield running


def new_task(server: LiveServer, label: str) -> tuple[int, dict[str, Any]]:
    """A new school-enrollment case's public-security task (ready); the case id and the task."""
    with server.as_user("applicant1") as owner:
        example = bundle_example(owner, BUNDLE, 0)
        started = apply(owner, BUNDLE, example, label)
        assert started.status_code == 201, started.text
    with server.as_user(CLERK) as clerk:
        (task,) = open_tasks_of(clerk, started.json()["id"], BUNDLE)
    return started.json()["id"], task


def as_user(server: LiveServer, name: str) -> httpx.Client:
    if name == CLERK2:
        return server.client(server.token(CLERK2, "a-long-passphrase"))
    return server.as_user(name)


def test_a_supervisor_picks_a_clerk_by_name_and_reassigns_once(server: LiveServer) -> None:
    case_id, task = new_task(server, "reassign")
    with server.as_user(CLERK) as clerk, server.as_user(SUPERVISOR) as supervisor:
        assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
        clerks = supervisor.get(f"/api/tasks/{task['id']}/clerks").json()
        assert {"username": CLERK2, "display_name": "王二警官", "supervisor": False} in clerks
        body = {"to": CLERK2, "reason": "原经办人休假", "expected": CLERK}
        key = {"Idempotency-Key": "reassign-1"}
        first = supervisor.post(f"/api/tasks/{task['id']}/reassign", json=body, headers=key)
        assert first.status_code == 200, first.text
        assert first.json()["assignee"] == CLERK2
        again = supervisor.post(f"/api/tasks/{task['id']}/reassign", json=body, headers=key)
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        # Without the key, the same request finds the assignee it names gone: the loser's 409.
        late = supervisor.post(f"/api/tasks/{task['id']}/reassign", json={**body, "to": SUPERVISOR})
        assert late.status_code == 409, late.text
        refused = clerk.post(
            f"/api/tasks/{task['id']}/reassign", json={"to": CLERK, "reason": "x", "expected": CLERK2}
        )
        assert refused.status_code == 403  # a clerk without the supervisor flag
        wrong = supervisor.post(
            f"/api/tasks/{task['id']}/reassign",
            json={"to": "clerk.education", "reason": "x", "expected": CLERK2},
        )
        assert wrong.status_code == 422 and "office" in wrong.text
    with server.as_user("applicant1") as owner:
        timeline = owner.get(f"/api/cases/{case_id}").json()["timeline"]
    assert not any(e["kind"].startswith("task_") and "reassign" in e["kind"] for e in timeline)
    assert CLERK2 not in str(timeline)
    with server.as_user("analyst") as analyst:
        staff = analyst.get(f"/api/cases/{case_id}").json()["timeline"]
    assert [e["detail"]["to"] for e in staff if e["kind"] == "task_reassigned"] == [CLERK2]


def test_a_clerk_delegates_and_the_new_assignee_gets_a_message(server: LiveServer) -> None:
    _case_id, task = new_task(server, "delegate")
    with server.as_user(CLERK) as clerk, as_user(server, CLERK2) as clerk2:
        assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
        done = clerk.post(f"/api/tasks/{task['id']}/delegate", json={"to": CLERK2, "note": "户籍已核"})
        assert done.status_code == 200, done.text
        assert done.json()["assignee"] == CLERK2
        messages = clerk2.get("/api/messages").json()["items"]
        (told,) = [m for m in messages if m["kind"] == "task_assigned" and m["task_id"] == task["id"]]
        assert told["link"] == f"/tasks/{task['id']}" and "户籍已核" in told["body"]["zh"]
        not_mine = clerk.post(f"/api/tasks/{task['id']}/delegate", json={"to": CLERK2, "note": "x"})
        assert not_mine.status_code == 409


def test_a_supervisor_releases_a_clerks_tasks_and_says_how_many(server: LiveServer) -> None:
    tasks = [new_task(server, f"release-{n}")[1] for n in range(2)]
    with server.as_user(CLERK) as clerk, server.as_user(SUPERVISOR) as supervisor:
        for task in tasks:
            assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
        released = supervisor.post(f"/api/clerks/{CLERK}/release", headers={"Idempotency-Key": "rel-1"})
        assert released.status_code == 200, released.text
        assert released.json()["released"] >= 2
        assert {t["id"] for t in tasks} <= set(released.json()["tasks"])
        assert clerk.post(f"/api/clerks/{CLERK}/release").json()["released"] == 0  # themself: none left
        assert supervisor.post("/api/clerks/no.such.account/release").status_code == 404
        # With a reason: it goes on each released task's staff trail.
        case_id, task = new_task(server, "release-why")
        assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
        why = supervisor.post(f"/api/clerks/{CLERK}/release", json={"reason": "病假，任务转回队列"})
        assert why.status_code == 200 and why.json()["tasks"] == [task["id"]], why.text
        trail = server.engine.get_case(Actor("analyst", Role.ANALYST), case_id).timeline
        (line,) = [e for e in trail if e.kind == "task_released" and e.work_item_id == task["id"]]
        assert line.detail["reason"] == "病假，任务转回队列"
        too_long = supervisor.post(f"/api/clerks/{CLERK}/release", json={"reason": "长" * 1001})
        assert too_long.status_code == 422


def test_bulk_claim_and_approve_with_a_result_per_task_and_a_retry_deciding_nothing_twice(
    server: LiveServer,
) -> None:
    tasks = [new_task(server, f"bulk-{n}")[1] for n in range(3)]
    ids = [t["id"] for t in tasks]
    with server.as_user("applicant1") as owner:
        decision = bundle_example(owner, BUNDLE, 0)["decisions"]["household-check"]
    with server.as_user(CLERK) as clerk, as_user(server, CLERK2) as clerk2:
        assert clerk2.post(f"/api/tasks/{ids[2]}/claim").status_code == 200  # one is someone else's
        claimed = clerk.post("/api/tasks/bulk", json={"action": "claim", "tasks": ids})
        assert [r["status"] for r in claimed.json()["results"]] == ["ok", "ok", "refused"]
        body = {"action": "approve", "tasks": ids, "data": decision, "comment": "同意"}
        key = {"Idempotency-Key": "bulk-approve-1"}
        first = clerk.post("/api/tasks/bulk", json=body, headers=key)
        assert first.status_code == 200, first.text
        results = first.json()["results"]
        assert [(r["task"], r["status"]) for r in results] == [
            (ids[0], "ok"),
            (ids[1], "ok"),
            (ids[2], "refused"),
        ]
        assert results[2]["detail"]
        again = clerk.post("/api/tasks/bulk", json=body, headers=key)
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        # The same tasks in a new bulk request: already decided, refused, nothing decided twice.
        other = clerk.post("/api/tasks/bulk", json=body, headers={"Idempotency-Key": "bulk-approve-2"})
        assert [r["status"] for r in other.json()["results"]] == ["refused"] * 3
        for task in ids[:2]:
            assert clerk.get(f"/api/tasks/{task}").json()["state"] == "completed"
        too_many = clerk.post("/api/tasks/bulk", json={"action": "claim", "tasks": list(range(1, 102))})
        assert too_many.status_code == 422
