"""Send-back and moves over REST, on a live server: the tax clerk sends a case back to registration.

The targets, the refusals (empty reason and a step that is not earlier: 422; a clerk of another
department: 404; an analyst: 403; a plain clerk's move: 403), the send-back with an
``Idempotency-Key`` (replayed once, done once), registration deciding again, the case
completing, the applicant's timeline without the reason, and the analytics counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.support import LiveServer, sqlite_server
from tests.api.walking import apply, approve, bundle_example, open_tasks_of, systems_work, work_case

STARTUP = "enterprise-startup"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with sqlite_server(tmp_path_factory.mktemp("send-back")) as running:
        yield running


def only_task(server: LiveServer, account: str, case_id: int, item: str) -> dict[str, Any]:
    with server.as_user(account) as client:
        return next(t for t in open_tasks_of(client, case_id, STARTUP) if t["item"] == item)


def test_tax_sends_back_to_registration_over_rest(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, STARTUP, 0)
        r = apply(applicant, STARTUP, example, "send-back-api")
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
    decisions = example["decisions"]
    with server.as_user("clerk.market-regulation") as market:
        approve(
            market, only_task(server, "clerk.market-regulation", case_id, "business-registration"), decisions
        )
    systems_work(server, case_id, STARTUP, decisions)
    invoice = only_task(server, "clerk.tax", case_id, "invoice-issue")

    with server.as_user("clerk.tax") as tax:
        assert tax.post(f"/api/tasks/{invoice['id']}/claim").status_code == 200
        targets = tax.get(f"/api/tasks/{invoice['id']}/send-back-targets")
        assert targets.status_code == 200, targets.text
        assert [(t["item"], t["element_id"]) for t in targets.json()] == [
            ("business-registration", "Task_register_business")
        ]
        assert targets.json()[0]["decision"] == decisions["business-registration"]
        url = f"/api/tasks/{invoice['id']}/send-back"
        empty = tax.post(url, json={"target": "business-registration", "reason": "  "})
        assert empty.status_code == 422 and empty.json()["detail"]
        later = tax.post(url, json={"target": "seal-engraving", "reason": "不是前序环节"})
        assert later.status_code == 422
    with server.as_user("clerk.public-security") as other:
        assert other.post(url, json={"target": "business-registration", "reason": "x"}).status_code == 404
    with server.as_user("analyst") as analyst:
        assert analyst.post(url, json={"target": "business-registration", "reason": "x"}).status_code == 403
    with server.as_user("clerk.tax") as tax:
        moved = tax.post(
            f"/api/cases/{case_id}/move", json={"target": "business-registration", "reason": "x"}
        )
        assert moved.status_code == 403

        body = {"target": "business-registration", "reason": "经营范围与发票票种不符，请重新核定"}
        headers = {"Idempotency-Key": "send-back-1"}
        sent = tax.post(url, json=body, headers=headers)
        assert sent.status_code == 200, sent.text
        again = tax.post(url, json=body, headers=headers)
        assert again.status_code == 200 and again.json() == sent.json()
        reopened = sent.json()
        assert reopened["item"] == "business-registration" and reopened["state"] == "ready"
        assert tax.post(url, json=body).status_code == 409  # the task is no longer open

    with server.as_user("analyst") as analyst:
        case = analyst.get(f"/api/cases/{case_id}").json()
    assert [e["kind"] for e in case["timeline"]].count("sent_back") == 1
    staff_line = next(e for e in case["timeline"] if e["kind"] == "sent_back")
    assert staff_line["detail"]["reason"] == body["reason"]

    work_case(server, case_id, STARTUP, _departments(server), decisions)
    with server.as_user("applicant1") as applicant:
        mine = applicant.get(f"/api/cases/{case_id}").json()
    assert mine["status"] == "completed"
    line = next(e for e in mine["timeline"] if e["kind"] == "sent_back")
    assert "reason" not in line["detail"] and line["detail"]["to_department"] == "market-regulation"

    with server.as_user("analyst") as analyst:
        rows = analyst.get("/api/analytics/bottlenecks", params={"bundle": STARTUP}).json()
        departments = analyst.get("/api/analytics/departments", params={"bundle": STARTUP}).json()
    by_item = {r["item"]: r for r in rows}
    assert by_item["invoice-issue"]["sent_back"] == 1
    assert by_item["business-registration"]["reopened"] == 1
    assert {d["department"]: d["sent_back"] for d in departments}["tax"] == 1


def test_a_supervisor_moves_a_case_with_a_reason(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, STARTUP, 0)
        case_id = apply(applicant, STARTUP, example, "move-api").json()["id"]
    decisions = example["decisions"]
    with server.as_user("clerk.market-regulation") as market:
        approve(
            market, only_task(server, "clerk.market-regulation", case_id, "business-registration"), decisions
        )
    with server.as_user("supervisor.public-security") as supervisor:  # the seal step is open
        targets = supervisor.get(f"/api/cases/{case_id}/move-targets")
        assert targets.status_code == 200, targets.text
        assert "Task_register_business" in [t["element_id"] for t in targets.json()]
        url = f"/api/cases/{case_id}/move"
        assert (
            supervisor.post(url, json={"target": "Task_register_business", "reason": ""}).status_code == 422
        )
        moved = supervisor.post(url, json={"target": "Task_register_business", "reason": "登记信息需更正"})
        assert moved.status_code == 200, moved.text
    with server.as_user("analyst") as analyst:
        case = analyst.get(f"/api/cases/{case_id}").json()
    line = next(e for e in case["timeline"] if e["kind"] == "case_moved")
    assert line["detail"]["after"] == ["Task_register_business"]
    assert "Task_engrave_seal" in line["detail"]["before"]
    assert line["detail"]["reason"] == "登记信息需更正"


def _departments(server: LiveServer) -> list[str]:
    with server.as_user("analyst") as analyst:
        bundle = analyst.get(f"/api/bundles/{STARTUP}").json()
    found: list[str] = bundle["departments"]
    return found
