"""Structured audit logs of state-changing calls, and account management from the CLI.

Every state-changing request writes one JSON line (who, what, which case and task, outcome,
the request id the client saw in ``X-Request-ID``); reads write none. ``onething user add``
makes accounts that sign in over HTTP at once.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from api.cli import main
from api.logs import AUDIT_LOGGER, JsonLinesFormatter
from tests.api.support import LiveServer
from tests.api.walking import apply, bundle_example, open_tasks_of


def audit_lines(
    caplog: pytest.LogCaptureFixture, request_ids: set[str], wait: float = 10.0
) -> list[dict[str, Any]]:
    """The audit lines (as the JSON the server writes) of the given requests, once all are written."""
    formatter = JsonLinesFormatter()
    deadline = time.monotonic() + wait
    while True:
        # The line is written as the answer goes out, so it may trail the client by a moment.
        lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == AUDIT_LOGGER]
        found = [line for line in lines if line["request_id"] in request_ids]
        if len(found) >= len(request_ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_state_changing_calls_write_one_json_line_each_with_who_what_case_and_outcome(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    with server.as_user("applicant2") as applicant, server.as_user("clerk.public-security") as police:
        started = apply(
            applicant, "school-enrollment", bundle_example(applicant, "school-enrollment", 0), "logs"
        )
        case_id = started.json()["id"]
        (task,) = open_tasks_of(police, case_id, "school-enrollment")
        claimed = police.post(f"/api/tasks/{task['id']}/claim")
        decision = {"outcome": "approve", "data": {"household_verified": True}, "comment": "核验通过"}
        completed = police.post(f"/api/tasks/{task['id']}/complete", json=decision)
        refused = police.post(f"/api/tasks/{task['id']}/complete", json=decision)
        looked = police.get(f"/api/tasks/{task['id']}")
    with server.client() as anonymous:
        denied = anonymous.post(f"/api/cases/{case_id}/withdraw")
    assert [r.status_code for r in (started, claimed, completed, refused, looked, denied)] == [
        201, 200, 200, 409, 200, 401,
    ]  # fmt: skip

    answers = {
        "start": started,
        "claim": claimed,
        "complete": completed,
        "refused": refused,
        "denied": denied,
    }
    ids = {name: r.headers["X-Request-ID"] for name, r in answers.items()}
    lines = {line["request_id"]: line for line in audit_lines(caplog, set(ids.values()))}
    assert set(lines) == set(ids.values())
    start, claim, complete = lines[ids["start"]], lines[ids["claim"]], lines[ids["complete"]]
    assert start["event"] == "api.change" and start["level"] == "info" and start["time"]
    said = (
        start["who"],
        start["method"],
        start["route"],
        start["case_id"],
        start["status"],
        start["outcome"],
    )
    assert said == ("applicant2", "POST", "/api/cases", case_id, 201, "ok")
    assert start["bundle"] == "school-enrollment"
    assert (claim["who"], claim["route"], claim["case_id"], claim["task_id"], claim["outcome"]) == (
        "clerk.public-security", "/api/tasks/{task_id}/claim", case_id, task["id"], "ok",
    )  # fmt: skip
    assert (complete["case_id"], complete["task_id"], complete["decision"], complete["outcome"]) == (
        case_id, task["id"], "approve", "ok",
    )  # fmt: skip
    assert lines[ids["refused"]]["status"] == 409 and lines[ids["refused"]]["outcome"] == "refused"
    assert lines[ids["refused"]]["error"] == "TaskNotReady"
    assert lines[ids["denied"]]["status"] == 401 and lines[ids["denied"]]["outcome"] == "denied"
    assert lines[ids["denied"]]["who"] is None
    # Reads are not state changes: no audit line.
    assert not audit_lines(caplog, {looked.headers["X-Request-ID"]}, wait=0.5)


def test_user_add_makes_a_clerk_who_signs_in_and_sees_its_queue(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    db = server.settings.database_url
    status = main(
        ["user", "--db", db, "add", "clerk.market.wang", "--role", "clerk",
         "--department", "market-regulation", "--password", "wang-passphrase", "--display-name", "王芳"]
    )  # fmt: skip
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "clerk.market.wang" in out.out and "market-regulation" in out.out

    token = server.token("clerk.market.wang", "wang-passphrase")
    with server.client(token) as clerk:
        me = clerk.get("/api/auth/me").json()
        assert (me["role"], me["departments"], me["display_name"]) == ("clerk", ["market-regulation"], "王芳")
        queue = clerk.get("/api/tasks")
        assert queue.status_code == 200
        assert {t["department"] for t in queue.json()["items"]} <= {"market-regulation"}

    assert main(["user", "--db", db, "list", "--json"]) == 0
    listed = {row["username"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed["clerk.market.wang"]["departments"] == ["market-regulation"]

    # A department no bundle knows, or a name already taken: refused with the reason, exit status 1.
    assert main(["user", "--db", db, "add", "clerk.x", "--role", "clerk", "--department", "nowhere",
                 "--password", "x-passphrase"]) == 1  # fmt: skip
    assert "nowhere" in capsys.readouterr().err
    assert main(["user", "--db", db, "add", "clerk.market.wang", "--role", "applicant",
                 "--password", "x-passphrase"]) == 1  # fmt: skip
    assert capsys.readouterr().err.strip()

    assert main(["user", "--db", db, "disable", "clerk.market.wang"]) == 0
    with server.client(token) as clerk:
        assert clerk.get("/api/auth/me").status_code == 401
    with server.client() as anonymous:
        refused = anonymous.post(
            "/api/auth/token", data={"username": "clerk.market.wang", "password": "wang-passphrase"}
        )
        assert refused.status_code == 401
