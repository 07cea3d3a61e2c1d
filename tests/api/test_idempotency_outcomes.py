"""An answer, a resolve or an account change whose server died after its commit is answered, not redone.

These works are not naturally repeatable: answering a complaint or a bad rating twice, or
resolving a supervisor entry twice, is refused ("already answered"), creating an account twice
is refused ("username taken"), and changing a password twice ends the sessions made under the
new one. So each records what it changed in its
``Idempotency-Key`` reservation, in its own transaction. A real ``onething serve`` (through
``tests.support.crash_server``) SIGKILLs itself after such a work committed and before its
answer was stored; a second server on the same database (SQLite file, or PostgreSQL) gets the
retry with the same key and answers within 10 seconds with the committed outcome: the status
and body the first answer would have had, the work done once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.deadlines import tracking
from engine.storage.db import Database
from engine.time.clock import ManualClock, SystemClock
from tests.api.support import ServeProcess, start_serve
from tests.api.walking import apply, approve, bundle_example, open_tasks_of
from tests.support.crash_server import start_crash_server

pytestmark = pytest.mark.slow

BUNDLE = "school-enrollment"
DEPARTMENT = "public-security"
SUPERVISOR = f"supervisor.{DEPARTMENT}"
RETRY_WITHIN = 10.0
PASSPHRASE = "crash-proof-passphrase-7"


def signed_in(served: ServeProcess, username: str, password: str = "demo") -> httpx.Client:
    """A client of the server signed in as an account (a demo one by default)."""
    r = httpx.post(
        f"{served.base_url}/api/auth/token", data={"username": username, "password": password}, timeout=30
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    return httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@dataclass(frozen=True)
class Servers:
    """A server that kills itself once a keyed work committed, and a survivor on the same database."""

    crashing: ServeProcess
    survivor: ServeProcess


@contextmanager
def servers(db_url: str, tmp_path: Path) -> Iterator[Servers]:
    """Both servers on one database and one data folder (materials and the token signing key)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    crashing = start_crash_server(db_url, shared, tmp_path / "crash.log", "worked:kill")
    survivor: ServeProcess | None = None
    try:
        survivor = start_serve(db_url, shared, tmp_path / "serve.log")
        yield Servers(crashing, survivor)
    finally:
        crashing.stop()
        if survivor is not None:
            survivor.stop()


def killed_then_retried(
    both: Servers, username: str, send: Callable[[httpx.Client], httpx.Response], status: int
) -> httpx.Response:
    """``send`` on the crashing server (which dies after the commit), then at once on the survivor.

    Asserts the retry came within ``RETRY_WITHIN`` seconds of the kill with ``status`` (the
    first answer's), and that a third send replays the retry's answer.
    """
    with signed_in(both.crashing, username) as client, pytest.raises(httpx.TransportError):
        send(client)
    killed = time.monotonic()
    assert both.crashing.process.wait(30) == -signal.SIGKILL
    with signed_in(both.survivor, username) as client:
        retry = send(client)
        took = time.monotonic() - killed
        print(f"retry answered {retry.status_code} {took:.2f}s after the kill: {retry.text[:200]}")
        assert retry.status_code == status, retry.text
        assert took < RETRY_WITHIN
        again = send(client)
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert (again.status_code, again.json()) == (retry.status_code, retry.json())
    return retry


def started_case(served: ServeProcess, label: str) -> tuple[int, dict[str, Any]]:
    """A new case of applicant1 (its id) and the bundle example it was made from."""
    with signed_in(served, "applicant1") as applicant:
        example = bundle_example(applicant, BUNDLE, 0)
        made = apply(applicant, BUNDLE, example, label)
        assert made.status_code == 201, made.text
        return int(made.json()["id"]), example


def timeline_kinds(served: ServeProcess, case_id: int) -> list[str]:
    """The kinds of the case's timeline entries, as its applicant reads them."""
    with signed_in(served, "applicant1") as applicant:
        case = applicant.get(f"/api/cases/{case_id}")
        assert case.status_code == 200, case.text
        return [e["kind"] for e in case.json()["timeline"]]


def finished(served: ServeProcess, case_id: int, decisions: dict[str, Any]) -> None:
    """Every department's demo clerk approves its tasks of the case until none is open."""
    with signed_in(served, "applicant1") as applicant:
        departments = applicant.get(f"/api/bundles/{BUNDLE}").json()["departments"]
    for _ in range(20):
        progressed = False
        for department in departments:
            with signed_in(served, f"clerk.{department}") as clerk:
                for task in open_tasks_of(clerk, case_id, BUNDLE):
                    approve(clerk, task, decisions)
                    progressed = True
        if not progressed:
            return
    raise AssertionError(f"case {case_id} still had open tasks after 20 rounds")


def without(body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The body less the keys a change is expected to touch."""
    return {k: v for k, v in body.items() if k not in keys}


def test_a_complaint_answer_whose_server_died_after_its_commit_is_answered_from_it(
    db_url: str, tmp_path: Path
) -> None:
    with servers(db_url, tmp_path) as both:
        case_id, _ = started_case(both.crashing, "complaint")
        with signed_in(both.crashing, "applicant1") as applicant:
            filed = applicant.post(
                "/api/complaints",
                json={"case_id": case_id, "text": "材料交了三天没人处理", "department": DEPARTMENT},
            )
            assert filed.status_code == 201, filed.text
            complaint_id = filed.json()["id"]
        key = {"Idempotency-Key": "answer-after-commit"}
        answer = {"reply": "已督促户籍科当日办结"}

        def send(client: httpx.Client) -> httpx.Response:
            return client.post(f"/api/complaints/{complaint_id}/answer", json=answer, headers=key)

        retry = killed_then_retried(both, SUPERVISOR, send, 200)

        answered = retry.json()
        assert (answered["id"], answered["state"]) == (complaint_id, "answered")
        assert (answered["reply"], answered["replied_by"]) == (answer["reply"], SUPERVISOR)
        with signed_in(both.survivor, "applicant1") as applicant:
            # The same body the author reads: what the first answer would have been.
            (seen,) = [c for c in applicant.get("/api/complaints").json() if c["id"] == complaint_id]
            assert answered == seen
        assert timeline_kinds(both.survivor, case_id).count("complaint_answered") == 1


def test_a_rectification_reply_whose_server_died_after_its_commit_is_answered_from_it(
    db_url: str, tmp_path: Path
) -> None:
    department = "housing-construction"
    clerk = f"clerk.{department}"
    with servers(db_url, tmp_path) as both:
        case_id, example = started_case(both.crashing, "rectification")
        finished(both.crashing, case_id, example["decisions"])
        with signed_in(both.crashing, "applicant1") as applicant:
            rated = applicant.post(
                f"/api/cases/{case_id}/rating",
                json={"score": 1, "comment": "退回两次", "department": department},
            )
            assert rated.status_code == 201, rated.text
            opened = rated.json()["rectification"]
            rectification_id = opened["id"]
        key = {"Idempotency-Key": "reply-after-commit"}
        reply = {"reply": "已优化核验说明并致歉"}

        def send(client: httpx.Client) -> httpx.Response:
            return client.post(f"/api/rectifications/{rectification_id}/reply", json=reply, headers=key)

        retry = killed_then_retried(both, clerk, send, 200)

        replied = retry.json()
        assert (replied["id"], replied["state"]) == (rectification_id, "replied")
        assert (replied["reply"], replied["replied_by"]) == (reply["reply"], clerk)
        # What the first answer would have been: the rectification the rating opened, replied.
        changed = ("state", "reply", "replied_by", "replied_at")
        assert without(replied, changed) == without(opened, changed)
        assert timeline_kinds(both.survivor, case_id).count("rectification_replied") == 1


def test_a_supervision_resolve_whose_server_died_after_its_commit_is_answered_from_it(
    db_url: str, tmp_path: Path
) -> None:
    with servers(db_url, tmp_path) as both:
        case_id, _ = started_case(both.crashing, "resolve")
        # The worker's sweep, with a clock a month ahead: the case's open task is late.
        db = Database(db_url)
        try:
            swept = tracking.run_sweep(db, ManualClock(SystemClock().now() + timedelta(days=30)))
        finally:
            db.dispose()
        assert swept.escalated >= 1
        with signed_in(both.crashing, SUPERVISOR) as supervisor:
            queue = supervisor.get("/api/supervision").json()
        (entry,) = [e for e in queue if e["subject"] == "work_item" and e["case_id"] == case_id]
        key = {"Idempotency-Key": "resolve-after-commit"}
        resolution = {"note": "已约谈经办人，当日办结"}

        def send(client: httpx.Client) -> httpx.Response:
            return client.post(f"/api/supervision/{entry['id']}/resolve", json=resolution, headers=key)

        retry = killed_then_retried(both, SUPERVISOR, send, 200)

        resolved = retry.json()
        assert (resolved["id"], resolved["state"]) == (entry["id"], "resolved")
        assert (resolved["note"], resolved["resolved_by"]) == (resolution["note"], SUPERVISOR)
        changed = ("state", "resolved_at", "resolved_by", "note")
        assert without(resolved, changed) == without(entry, changed)  # the entry it was, resolved
        assert timeline_kinds(both.survivor, case_id).count("escalation_resolved") == 1


def test_an_account_created_by_a_server_that_died_after_its_commit_is_answered_from_it(
    db_url: str, tmp_path: Path
) -> None:
    wanted: dict[str, Any] = {
        "username": "clerk.crash",
        "password": PASSPHRASE,
        "role": "clerk",
        "departments": [DEPARTMENT],
        "display_name": "崩溃后重试 (retried after a crash)",
    }
    key = {"Idempotency-Key": "create-after-commit"}
    with servers(db_url, tmp_path) as both:

        def send(client: httpx.Client) -> httpx.Response:
            return client.post("/api/accounts", json=wanted, headers=key)

        retry = killed_then_retried(both, "admin", send, 201)

        with signed_in(both.survivor, "admin") as admin:
            assert retry.json() == admin.get("/api/accounts/clerk.crash").json()
            names = [a["username"] for a in admin.get("/api/accounts").json()]
        assert names.count("clerk.crash") == 1
        created = retry.json()
        assert (created["role"], created["departments"]) == ("clerk", [DEPARTMENT])
        with signed_in(both.survivor, "clerk.crash", PASSPHRASE) as clerk:
            assert clerk.get("/api/tasks").status_code == 200


def test_a_password_change_whose_server_died_after_its_commit_is_made_once(
    db_url: str, tmp_path: Path
) -> None:
    key = {"Idempotency-Key": "password-after-commit"}
    with servers(db_url, tmp_path) as both:

        def send(client: httpx.Client) -> httpx.Response:
            return client.patch(f"/api/accounts/{SUPERVISOR}", json={"password": PASSPHRASE}, headers=key)

        with signed_in(both.crashing, "admin") as admin, pytest.raises(httpx.TransportError):
            send(admin)
        assert both.crashing.process.wait(30) == -signal.SIGKILL
        # The supervisor signs in with the new password before the admin's client retries:
        # a second change would end this session.
        with signed_in(both.survivor, SUPERVISOR, PASSPHRASE) as supervisor:
            started = time.monotonic()
            with signed_in(both.survivor, "admin") as admin:
                retry = send(admin)
                assert time.monotonic() - started < RETRY_WITHIN
                assert retry.status_code == 200, retry.text
                assert retry.json() == admin.get(f"/api/accounts/{SUPERVISOR}").json()
            still = supervisor.get("/api/supervision")
            assert still.status_code == 200, still.text
