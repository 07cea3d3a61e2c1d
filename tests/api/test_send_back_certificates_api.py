"""Over REST: registration decided again after tax's send-back supersedes the business licence.

Before the re-decision ``GET /api/certificates/{number}`` still answers valid; after it the old
number answers revoked with the superseding reason (naming the new number, nothing personal),
the new number answers valid, and the applicant's case lists the licence in force only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.support import LiveServer, sqlite_server
from tests.api.test_case_codes import signed_in
from tests.api.walking import apply, approve, bundle_example, open_tasks_of, systems_work

STARTUP = "enterprise-startup"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with sqlite_server(tmp_path_factory.mktemp("send-back-certificates")) as running:
        yield running


def only_task(server: LiveServer, account: str, case_id: int, item: str) -> dict[str, Any]:
    with server.as_user(account) as client:
        return next(t for t in open_tasks_of(client, case_id, STARTUP) if t["item"] == item)


def test_a_re_decided_registration_supersedes_the_licence_over_rest(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, STARTUP, 0)
        r = apply(applicant, STARTUP, example, "send-back-cert-api")
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
    decisions = example["decisions"]
    with server.as_user("clerk.market-regulation") as market:
        approve(
            market, only_task(server, "clerk.market-regulation", case_id, "business-registration"), decisions
        )
    systems_work(server, case_id, STARTUP, decisions)
    with server.as_user("applicant1") as applicant:
        old_id = applicant.get(f"/api/cases/{case_id}").json()["outputs"]["business_licence"]
    invoice = only_task(server, "clerk.tax", case_id, "invoice-issue")
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
