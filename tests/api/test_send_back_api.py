"""Send-back and moves over REST, on a live server: the tax clerk sends a case back to registration.

The targets, the refusals (empty reason and a step that is not earlier: 422; a clerk of another
department: 404; an analyst: 403; a plain clerk's move: 403), the send-back with an
``Idempotency-Key`` (replayed once, done once), registration deciding again, the case
completing, the applicant's timeline without the reason, and the analytics counts; then the
business licence superseded by registration's re-decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.support import LiveServer, sqlite_server
from tests.api.test_case_codes import signed_in
from tests.api.walking import apply, approve, bundle_example, open_tasks_of, systems_work, work_case

STARTUP = "enterprise-startup"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with sqlite_server(tmp_path_factory.mktemp("send-back")) as running:
        yield running


def only_task(server: LiveServer, account: str, case_id: int, item: str) -> dict[str, Any]:
    with server.as_user(account) as client:
        return next(t for t in open_tasks_of(client, case_id, STARTUP) if t["item"] == item)


def at_invoices(server: LiveServer, label: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """A new case registered and past the systems' steps: its id, the example's decisions, tax's task."""
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, STARTUP, 0)
        r = apply(applicant, STARTUP, example, label)
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
    decisions = example["decisions"]
    with server.as_user("clerk.market-regulation") as market:
        approve(
            market, only_task(server, "clerk.market-regulation", case_id, "business-registration"), decisions
        )
    systems_work(server, case_id, STARTUP, decisions)
    return case_id, decisions, only_task(server, "clerk.tax", case_id, "invoice-issue")


def test_tax_sends_back_to_registration_over_rest(server: LiveServer) -> None:
    case_id, decisions, invoice = at_invoices(server, "send-back-api")

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


# Registration decided again after tax's send-back supersedes the business licence: before the
# re-decision the old number still answers valid; after it the old number answers revoked with
# the superseding reason (naming the new number, nothing personal), the new one valid, and the
# applicant's case lists the licence in force only.


def test_a_re_decided_registration_supersedes_the_licence_over_rest(server: LiveServer) -> None:
    case_id, decisions, invoice = at_invoices(server, "send-back-cert-api")
    with server.as_user("applicant1") as applicant:
        old_id = applicant.get(f"/api/cases/{case_id}").json()["outputs"]["business_licence"]
    with server.as_user("clerk.tax") as tax:
        assert tax.post(f"/api/tasks/{invoice['id']}/claim").status_code == 200
        sent = tax.post(
            f"/api/tasks/{invoice['id']}/send-back",
            json={"target": "business-registration", "reason": "经营范围需重新核定"},
            headers={"Idempotency-Key": "send-back-cert-1"},
        )
        assert sent.status_code == 200, sent.text
    with server.as_user("applicant1") as applicant:
        case = applicant.get(f"/api/cases/{case_id}").json()
    assert case["outputs"]["business_licence"] == old_id  # still in force while registration looks again
    assert "certificate_superseded" not in [e["kind"] for e in case["timeline"]]

    with server.as_user("clerk.market-regulation") as market:
        approve(market, sent.json(), decisions)

    with server.as_user("applicant1") as applicant:
        case = applicant.get(f"/api/cases/{case_id}").json()
    line = next(e for e in case["timeline"] if e["kind"] == "certificate_superseded")
    old, new = line["detail"]["number"], line["detail"]["new_number"]
    assert new == f"{old}-2" and case["outputs"]["business_licence"] != old_id
    with server.client() as public:
        old_answer = public.get(f"/api/certificates/{old}")
        new_answer = public.get(f"/api/certificates/{new}")
    assert old_answer.status_code == 200 and old_answer.json()["status"] == "revoked"
    assert old_answer.json()["revoked_reason"] == (
        f"被重新办理的环节取代，新证照 {new} / superseded by a re-decided step: now {new}"
    )
    assert new_answer.status_code == 200 and new_answer.json()["status"] == "valid"

    # The applicant's page says it in plain words, and lists the licence in force only.
    browser = signed_in(server, "applicant1")
    page = browser.get(f"/cases/{case_id}")
    browser.close()
    assert page.status_code == 200
    assert "营业执照已重新签发，原证照作废" in page.text
    assert new in page.text and re.search(rf"{old}(?!-)", page.text) is None  # the new one only
