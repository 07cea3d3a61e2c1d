"""Concurrency over HTTP: one winner among many claimers, and idempotency keys that do the work once.

Each client is a thread with its own ``httpx.Client`` (its own connection) and its own clerk
account; a barrier lines them up so the requests reach the server together.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.support import LiveServer, sqlite_server
from tests.api.walking import apply, bundle_example, open_tasks_of

CLAIMERS = 20


@pytest.fixture(scope="module")
def race_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own with twenty public-security clerks (created by the admin over HTTP)."""
    with sqlite_server(tmp_path_factory.mktemp("race")) as running:
        admin_token = running.token("admin")

        def make(n: int) -> None:
            with running.client(admin_token) as admin:
                made = admin.post(
                    "/api/accounts",
                    json={
                        "username": f"police.{n:02d}",
                        "password": "a-long-passphrase",
                        "role": "clerk",
                        "departments": ["public-security"],
                    },
                )
                assert made.status_code == 201, made.text

        with ThreadPoolExecutor(4) as pool:  # password hashing is slow by design: share it out
            list(pool.map(make, range(CLAIMERS)))
            list(pool.map(lambda n: running.token(f"police.{n:02d}", "a-long-passphrase"), range(CLAIMERS)))
        yield running


def together(count: int, request: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """Run ``request(i)`` in ``count`` threads released at the same moment; the answers in order."""
    barrier = threading.Barrier(count)

    def one(i: int) -> httpx.Response:
        barrier.wait(30)
        return request(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def new_case(server: LiveServer, label: str) -> dict[str, Any]:
    """A running school-enrollment case of applicant1 (its first task is the public-security check)."""
    with server.as_user("applicant1") as applicant:
        started = apply(
            applicant, "school-enrollment", bundle_example(applicant, "school-enrollment", 0), label
        )
        assert started.status_code == 201, started.text
        case: dict[str, Any] = started.json()
        return case


def police_task(server: LiveServer, case_id: int) -> dict[str, Any]:
    """The case's open public-security task."""
    with server.as_user("clerk.public-security") as police:
        (task,) = open_tasks_of(police, case_id, "school-enrollment")
        return task


def test_twenty_clerks_claiming_one_task_give_one_winner_and_nineteen_conflicts(
    race_server: LiveServer,
) -> None:
    case = new_case(race_server, "race-claim")
    task = police_task(race_server, case["id"])
    clients = [race_server.client(race_server.tokens[f"police.{n:02d}"]) for n in range(CLAIMERS)]
    try:
        for c in clients:  # open every connection first, so the claims race and not the handshakes
            assert c.get("/healthz").status_code == 200
        answers = together(CLAIMERS, lambda i: clients[i].post(f"/api/tasks/{task['id']}/claim"))
    finally:
        for c in clients:
            c.close()
    statuses = collections.Counter(a.status_code for a in answers)
    assert statuses == {200: 1, 409: CLAIMERS - 1}, [
        a.text for a in answers if a.status_code not in (200, 409)
    ]
    (winner,) = [f"police.{i:02d}" for i, a in enumerate(answers) if a.status_code == 200]
    assert answers[[a.status_code for a in answers].index(200)].json()["assignee"] == winner
    for lost in (a for a in answers if a.status_code == 409):
        assert isinstance(lost.json()["detail"], str)

    with race_server.as_user("applicant1") as applicant:
        seen = applicant.get(f"/api/cases/{case['id']}").json()
    claims = [e for e in seen["timeline"] if e["kind"] == "claimed"]
    assert [(e["actor"], e["work_item_id"]) for e in claims] == [(winner, task["id"])]
    (held,) = [t for t in seen["tasks"] if t["id"] == task["id"]]
    assert held["state"] == "claimed" and held["assignee"] == winner


def test_a_repeated_idempotency_key_creates_one_case_and_replays_the_first_answer(
    race_server: LiveServer,
) -> None:
    with race_server.as_user("applicant2") as applicant:
        example = bundle_example(applicant, "school-enrollment", 0)
        before = len(applicant.get("/api/cases", params={"limit": 200}).json()["items"])
        first = apply(applicant, "school-enrollment", example, "idem-case", {"Idempotency-Key": "case-key-1"})
        assert first.status_code == 201, first.text
        again = apply(applicant, "school-enrollment", example, "idem-case", {"Idempotency-Key": "case-key-1"})
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        # The same key sent by ten clients at once: still one case; every answer names it or says "wait".
        materials = {k: v for k, v in first.json()["materials"].items() if k in example["materials"]}
        body = {"bundle": "school-enrollment", "data": example["data"], "materials": materials}
        clients = [race_server.client(race_server.token("applicant2")) for _ in range(10)]
        try:
            answers = together(
                10,
                lambda i: clients[i].post("/api/cases", json=body, headers={"Idempotency-Key": "case-key-2"}),
            )
        finally:
            for c in clients:
                c.close()
        assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
        after = applicant.get("/api/cases", params={"limit": 200}).json()["items"]
        assert len(after) == before + 2  # one for each key, whatever the number of repeats
        # A key belongs to one request: reused for another body it is refused.
        other = applicant.post(
            "/api/cases", json={**body, "data": {}}, headers={"Idempotency-Key": "case-key-1"}
        )
        assert other.status_code == 422, other.text
    # Keys belong to their caller: another applicant's same key is a request of its own.
    with race_server.as_user("applicant1") as stranger:
        mine = apply(
            stranger, "school-enrollment", example, "idem-stranger", {"Idempotency-Key": "case-key-1"}
        )
        assert mine.status_code == 201 and "Idempotent-Replayed" not in mine.headers
        assert mine.json()["id"] != first.json()["id"] and mine.json()["applicant"] == "applicant1"


def test_a_repeated_idempotency_key_completes_a_task_once(race_server: LiveServer) -> None:
    case = new_case(race_server, "idem-complete")
    task = police_task(race_server, case["id"])
    decision = {"outcome": "approve", "data": {"household_verified": True}, "comment": "核验通过"}
    with race_server.as_user("clerk.public-security") as police:
        assert police.post(f"/api/tasks/{task['id']}/claim").status_code == 200
        key = {"Idempotency-Key": "complete-once"}
        first = police.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=key)
        assert first.status_code == 200, first.text
        again = police.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=key)
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        # Without the key the repeat is what it is: the task is done already.
        assert police.post(f"/api/tasks/{task['id']}/complete", json=decision).status_code == 409
    with race_server.as_user("applicant1") as applicant:
        seen = applicant.get(f"/api/cases/{case['id']}").json()
    approvals = [e for e in seen["timeline"] if e["kind"] == "approved" and e["work_item_id"] == task["id"]]
    assert len(approvals) == 1
    # The workflow moved on once: one open task per next step, none doubled.
    open_items = collections.Counter(t["item"] for t in seen["tasks"] if t["state"] in ("ready", "claimed"))
    assert open_items and set(open_items.values()) == {1}
