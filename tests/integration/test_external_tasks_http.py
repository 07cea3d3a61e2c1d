"""A department's system against a real ``onething serve`` over loopback: external tasks and messages.

Everything here goes through HTTP only: the server is its own process and each worker is a
process running ``examples/department_system.py`` (so a worker can be SIGKILLed mid-task).
Each test deploys its own copy of ``bank_bundle/``: the bank's system opens the account as
an external task, a refusal (BPMN error) goes to a bank clerk, and the case then waits for a
message before it finishes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import httpx
import pytest

from tests.api.support import ROOT, pdf, upload
from tests.integration.conftest import COMPANY, WORKER, Bundle, Onething, Worker, eventually

ITEM = "bank-account-opening"
SIMULATED_ERROR = "the back-office system is unavailable (simulated)"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest) -> Onething:
    """The module's SQLite server, then its PostgreSQL one (where fetchAndLock uses SKIP LOCKED)."""
    served: Onething = request.getfixturevalue("onething" if request.param == "sqlite" else "onething_pg")
    return served


def tasks_of(onething: Onething, bundle: Bundle) -> list[dict[str, Any]]:
    """The open external tasks of the bundle's topic."""
    return onething.external_tasks(topicName=bundle.topic)


def locked_by(onething: Onething, bundle: Bundle, worker_id: str) -> list[dict[str, Any]]:
    """The bundle's open external tasks locked by one worker."""
    return [t for t in tasks_of(onething, bundle) if t["workerId"] == worker_id]


def completions(case: dict[str, Any], item: str = ITEM) -> list[dict[str, Any]]:
    """The timeline's approvals of one item."""
    return [e for e in case["timeline"] if e["kind"] == "approved" and e["detail"].get("item") == item]


def waiting_for_message(onething: Onething, case_id: int) -> bool:
    """True once the case's external task is done and the case still runs (at the message catch)."""
    case = onething.case(case_id)
    return case["status"] == "running" and bool(completions(case))


def test_fetch_lock_complete_moves_the_case_on(
    onething: Onething, start_worker: Callable[..., Worker]
) -> None:
    server = onething
    bundle = server.deploy()
    case = server.submit(bundle)
    (task,) = eventually(lambda: tasks_of(server, bundle), 10, "the external task")
    assert task["topicName"] == bundle.topic and task["workerId"] is None and task["retries"] is None
    assert task["businessKey"] == case["code"]

    worker = start_worker(server, bundle, "--once", "--max-seconds", "20")
    assert worker.wait(30) == 0
    (done,) = worker.outcomes("completed")
    assert done[1] == task["id"] and done[2] == case["code"]
    assert done[3].startswith("bank_account_no=6222")  # the typed String variable it completed with

    assert tasks_of(server, bundle) == []  # a completed external task is gone, as in Camunda
    moved = server.case(case["id"], "applicant1")
    assert moved["status"] == "running"
    (approval,) = completions(moved)
    assert approval["actor"] == "system.bank"
    assert not worker.outcomes("refused")


def test_two_workers_on_one_topic_never_hold_the_same_task(
    server: Onething, start_worker: Callable[..., Worker]
) -> None:
    bundle = server.deploy()
    cases = [server.submit(bundle) for _ in range(16)]
    open_tasks = eventually(lambda: [t for t in [tasks_of(server, bundle)] if len(t) == 16], 15, "16 tasks")[
        0
    ]
    options = ("--max-tasks", "2", "--work-ms", "150", "--lock-ms", "20000", "--max-seconds", "40")
    workers = [start_worker(server, bundle, "--worker-id", name, *options) for name in ("w1", "w2")]

    def all_done() -> bool:
        return sum(len(w.outcomes("completed")) for w in workers) >= 16 and not tasks_of(server, bundle)

    eventually(all_done, 40, "both workers to complete the 16 tasks", every=0.3)
    for w in workers:
        w.stop()

    done = [{line[1] for line in w.outcomes("completed")} for w in workers]
    assert done[0].isdisjoint(done[1])
    assert done[0] | done[1] == {t["id"] for t in open_tasks}
    assert sum(len(w.outcomes("completed")) for w in workers) == 16  # no task twice within one worker either
    assert all(done), "each worker got some of the tasks (they really competed)"
    assert not any(w.outcomes("refused") for w in workers)
    for case in cases:
        assert len(completions(server.case(case["id"]))) == 1


def test_a_killed_workers_task_is_fetched_again_after_its_lock_expires_and_completed_once(
    onething: Onething, start_worker: Callable[..., Worker]
) -> None:
    bundle = onething.deploy()
    case = onething.submit(bundle)
    crashed = start_worker(
        onething, bundle, "--worker-id", "crashed", "--lock-ms", "3000", "--work-ms", "60000"
    )
    (held,) = eventually(
        lambda: [t for t in tasks_of(onething, bundle) if t["workerId"] == "crashed"], 15, "the first lock"
    )
    crashed.kill()
    expires = datetime.fromisoformat(held["lockExpirationTime"]).timestamp()

    second = start_worker(
        onething, bundle, "--worker-id", "second", "--lock-ms", "20000", "--work-ms", "1500"
    )
    (taken,) = eventually(
        lambda: [t for t in tasks_of(onething, bundle) if t["workerId"] == "second"],
        15,
        "the lock taken over",
    )
    assert time.time() >= expires - 0.5, "the task was handed out again before its lock expired"
    assert taken["id"] == held["id"]
    # the crashed worker's late answer is refused: the lock is someone else's now
    late = onething.engine_rest("POST", f"/external-task/{held['id']}/complete", json={"workerId": "crashed"})
    assert late.status_code == 400, late.text
    assert late.json()["type"] == "RestException"
    assert "It is locked by worker 'second'" in late.json()["message"]

    eventually(lambda: second.outcomes("completed"), 15, "the second worker's completion")
    (approval,) = completions(onething.case(case["id"]))
    assert approval["actor"] == "system.bank"
    assert crashed.outcomes("completed") == [] and second.outcomes("refused") == []


def test_failures_count_retries_down_to_an_incident_that_a_clerk_then_finishes(
    onething: Onething, start_worker: Callable[..., Worker]
) -> None:
    bundle = onething.deploy()
    case = onething.submit(bundle)
    worker = start_worker(
        onething, bundle, "--fail-first", "3", "--retries", "3", "--retry-ms", "200", "--max-seconds", "20"
    )
    (incident,) = eventually(
        lambda: [t for t in tasks_of(onething, bundle) if t["retries"] == 0], 20, "retries to reach 0"
    )
    worker.stop()
    assert [line[3] for line in worker.outcomes("failed")] == ["retries=2", "retries=1", "retries=0"]
    assert incident["errorMessage"] == SIMULATED_ERROR
    assert onething.external_tasks(topicName=bundle.topic, noRetriesLeft="true") == [incident]

    # the applicant sees the department's system at work, never the error text
    with onething.client("applicant1") as applicant:
        seen = applicant.get(f"/api/cases/{case['id']}")
    assert seen.status_code == 200 and SIMULATED_ERROR not in seen.text
    with onething.client("supervisor.bank") as supervisor:
        listed = supervisor.get("/api/incidents")
        assert listed.status_code == 200, listed.text
        assert str(incident["id"]) in {str(i["id"]) for i in listed.json()}
        handed = supervisor.post(
            f"/api/tasks/{incident['id']}/handover", json={"reason": "银行核心系统故障，转人工办理"}
        )
        assert handed.status_code == 200, handed.text
    assert tasks_of(onething, bundle) == []  # no longer an external task

    with onething.client("clerk.bank") as clerk:
        queue = clerk.get("/api/tasks", params={"department": "bank", "state": "ready"}).json()["items"]
        (mine,) = [t for t in queue if t["case_id"] == case["id"]]
        assert clerk.post(f"/api/tasks/{mine['id']}/claim").status_code == 200
        decision = {
            "outcome": "approve",
            "data": {"bank_account_no": "1001263409000123456"},
            "comment": "人工开户",
        }
        finished = clerk.post(f"/api/tasks/{mine['id']}/complete", json=decision)
        assert finished.status_code == 200, finished.text
    moved = onething.case(case["id"])
    (approval,) = completions(moved)
    assert approval["actor"] == "clerk.bank" and moved["status"] == "running"
    assert any("incident" in e["kind"] for e in moved["timeline"])


def test_a_bpmn_error_takes_the_error_boundary_route(
    onething: Onething, start_worker: Callable[..., Worker]
) -> None:
    bundle = onething.deploy()
    case = onething.submit(bundle)
    worker = start_worker(onething, bundle, "--refuse", "ACCOUNT_REFUSED", "--once", "--max-seconds", "20")
    assert worker.wait(30) == 0
    assert [line[3] for line in worker.outcomes("bpmn-error")] == ["ACCOUNT_REFUSED"]
    assert tasks_of(onething, bundle) == []

    routed = onething.case(case["id"])
    (review,) = [t for t in routed["tasks"] if t["state"] == "ready"]
    assert review["item"] == "refusal-review" and review["department"] == "bank"
    assert completions(routed) == []
    with onething.client("clerk.bank") as clerk:
        assert clerk.post(f"/api/tasks/{review['id']}/claim").status_code == 200
        body = {"outcome": "approve", "data": {}, "comment": "确认不予开户"}
        assert clerk.post(f"/api/tasks/{review['id']}/complete", json=body).status_code == 200
    assert onething.case(case["id"])["finished_at"] is not None


def test_a_message_correlates_to_the_one_waiting_case_and_none_or_two_get_camundas_answer(
    onething: Onething, start_worker: Callable[..., Worker]
) -> None:
    bundle = onething.deploy()
    first, second = onething.submit(bundle), onething.submit(bundle)
    worker = start_worker(onething, bundle, "--max-tasks", "5", "--max-seconds", "20")
    for case in (first, second):
        eventually(partial(waiting_for_message, onething, case["id"]), 20, "the case at the message")
    worker.stop()

    nobody = onething.engine_rest("POST", "/message", json={"messageName": f"{bundle.message}-unknown"})
    assert nobody.status_code == 400, nobody.text
    assert nobody.json()["type"] == "RestException" and "correlate" in nobody.json()["message"].lower()
    two = onething.engine_rest("POST", "/message", json={"messageName": bundle.message})
    assert two.status_code == 400, two.text
    assert two.json()["type"] == "RestException" and "correlate" in two.json()["message"].lower()
    assert {onething.case(c["id"])["status"] for c in (first, second)} == {"running"}

    one = onething.engine_rest(
        "POST",
        "/message",
        json={
            "messageName": bundle.message,
            "businessKey": first["code"],
            "processVariables": {"company_name": {"value": COMPANY["company_name"], "type": "String"}},
            "resultEnabled": True,
        },
    )
    assert one.status_code == 200, one.text
    (result,) = one.json()
    assert result["resultType"] == "Execution"
    assert result["execution"]["processInstanceId"] == str(first["id"]) and result["processInstance"] is None
    assert onething.case(first["id"])["status"] == "completed"
    assert onething.case(second["id"])["status"] == "running"

    last = onething.engine_rest("POST", "/message", json={"messageName": bundle.message})
    assert last.status_code == 204, last.text  # one case left waiting; no result asked for
    assert onething.case(second["id"])["status"] == "completed"


def test_long_polling_returns_as_soon_as_a_task_appears(onething: Onething) -> None:
    bundle = onething.deploy()
    token = onething.token("system.bank")

    def fetch(topic: str, wait_ms: int) -> httpx.Response:
        body = {
            "workerId": "poller",
            "maxTasks": 1,
            "asyncResponseTimeout": wait_ms,
            "topics": [{"topicName": topic, "lockDuration": 10_000}],
        }
        with httpx.Client(base_url=onething.base_url, timeout=30) as client:
            return client.post(
                "/engine-rest/external-task/fetchAndLock",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )

    started = time.monotonic()
    empty = fetch(bundle.topic, 1_000)
    assert empty.status_code == 200 and empty.json() == []
    assert time.monotonic() - started >= 0.9, "an empty long poll waits out its timeout"

    answered: dict[str, Any] = {}

    def poll() -> None:
        answered["response"] = fetch(bundle.topic, 10_000)
        answered["at"] = time.monotonic()

    poller = threading.Thread(target=poll)
    polling_since = time.monotonic()
    poller.start()
    time.sleep(0.7)  # the request is waiting in the server now
    assert "response" not in answered
    case = onething.submit(bundle)
    submitted = time.monotonic()
    poller.join(15)
    response: httpx.Response = answered["response"]
    assert response.status_code == 200, response.text
    (task,) = response.json()
    assert task["businessKey"] == case["code"] and task["workerId"] == "poller"
    assert answered["at"] - submitted < 1.0, (
        f"returned {answered['at'] - submitted:.2f} s after the task appeared"
    )
    assert answered["at"] - polling_since < 5


def apply_example(onething: Onething, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A case of a shipped bundle with its first example, as applicant1; the case and the example."""
    with onething.client("applicant1") as applicant:
        example: dict[str, Any] = applicant.get(f"/api/bundles/{key}").json()["examples"][0]
        materials = {
            kind: upload(applicant, kind, pdf(f"integration-{kind}"))["id"] for kind in example["materials"]
        }
        submitted = applicant.post(
            "/api/cases", json={"bundle": key, "data": example["data"], "materials": materials}
        )
    assert submitted.status_code == 201, submitted.text
    return dict(submitted.json()), example


def test_the_tax_system_registers_the_taxpayer_of_a_shipped_enterprise_startup_case(
    onething: Onething, start_worker: Callable[..., Worker]
) -> None:
    case, example = apply_example(onething, "enterprise-startup")
    with onething.client("clerk.market-regulation") as clerk:
        (registration,) = [t for t in onething.case(case["id"])["tasks"] if t["state"] == "ready"]
        assert clerk.post(f"/api/tasks/{registration['id']}/claim").status_code == 200
        decision = {
            "outcome": "approve",
            "data": example["decisions"]["business-registration"],
            "comment": "同意",
        }
        assert clerk.post(f"/api/tasks/{registration['id']}/complete", json=decision).status_code == 200

    # the tax registration waits for the tax system: not in any tax clerk's queue
    with onething.client("clerk.tax") as tax_clerk:
        queue = tax_clerk.get("/api/tasks", params={"department": "tax"}).json()["items"]
    assert [t["item"] for t in queue if t["case_id"] == case["id"]] == []
    shipped = Bundle("enterprise-startup", "tax", "")
    worker = start_worker(onething, shipped, "--once", "--max-seconds", "20", department="tax")
    assert worker.wait(30) == 0, worker.lines()
    (done,) = worker.outcomes("completed")
    assert done[2] == case["code"] and re.fullmatch(r"tax_registration_no=[0-9A-Z]{15,20}", done[3])
    (approval,) = completions(onething.case(case["id"]), "tax-registration")
    assert approval["actor"] == "system.tax"


def test_the_hospital_system_issues_the_birth_certificate_of_a_shipped_newborn_case_by_message(
    onething: Onething,
) -> None:
    with onething.client("applicant1") as applicant:
        diagram = applicant.get("/api/bundles/newborn-birth/diagram").text
    if "birth_certificate_issued" not in diagram:
        pytest.skip(
            "the shipped newborn-birth does not wait for the hospital's message yet (the lead converts it)"
        )
    case, example = apply_example(onething, "newborn-birth")
    number = example["decisions"]["birth-certificate"]["birth_certificate_no"]
    command = [sys.executable, str(WORKER), "--base-url", onething.base_url, "--department", "health"]
    command += ["--send-message", "birth_certificate_issued", "--business-key", case["code"]]
    command += ["--set", f"birth_certificate_no={number}"]

    sent = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sent.stdout.split() == ["correlated", "birth_certificate_issued", case["code"], "Execution"]
    seen = onething.case(case["id"], "applicant1")
    (approval,) = completions(seen, "birth-certificate")
    assert approval["actor"] == "system.health"
    assert "birth_certificate" in seen["outputs"]

    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and again.stdout.startswith("not-correlated "), again.stdout
