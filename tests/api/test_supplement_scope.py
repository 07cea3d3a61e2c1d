"""``POST /api/cases/{id}/supplement`` takes only what the notice asked: the licence and the case agree.

Registration is approved and the business licence issued; the seal-engraving desk returns
the case asking for one material. A supplement that also renames the company and its legal
representative answers 422 naming both fields, and the case is left exactly as it was.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from engine.people.accounts import DEMO_PASSWORD
from tests.api.support import LiveServer, pdf, upload
from tests.api.walking import apply, approve, bundle_example, open_tasks_of, systems_work

BUNDLE = "enterprise-startup"
ASKED = "premises_proof"
RENAMED = {"company_name": "上海另起炉灶科技有限公司", "legal_rep_name": "王五"}


def returned_for_one_material(server: LiveServer, applicant: httpx.Client) -> tuple[int, dict[str, Any]]:
    """A case whose every desk approved but seal engraving, which asked for the premises proof."""
    example = bundle_example(applicant, BUNDLE, 0)
    started = apply(applicant, BUNDLE, example, "supplement-scope")
    assert started.status_code == 201, started.text
    case_id = started.json()["id"]
    departments = applicant.get(f"/api/bundles/{BUNDLE}").json()["departments"]
    for _ in range(10):
        systems_work(server, case_id, BUNDLE, example["decisions"])  # the tax system's step
        for department in departments:
            with server.as_user(f"clerk.{department}") as clerk:
                for task in open_tasks_of(clerk, case_id, BUNDLE):
                    if task["item"] != "seal-engraving":
                        approve(clerk, task, example["decisions"])
                        continue
                    assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
                    returned = clerk.post(
                        f"/api/tasks/{task['id']}/complete",
                        json={
                            "outcome": "return",
                            "comment": "请补正",
                            "problems": [{"material": ASKED, "message": "场地证明不清晰"}],
                        },
                    )
                    assert returned.status_code == 200, returned.text
        case = applicant.get(f"/api/cases/{case_id}").json()
        if case["status"] == "awaiting_applicant":
            return case_id, case
    raise AssertionError(f"case {case_id} never came back to the applicant")


def test_a_supplement_asked_for_one_material_cannot_rename_the_company(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        case_id, before = returned_for_one_material(server, applicant)
        assert "business_licence" in before["outputs"]  # the licence is issued under the old name
        assert [p.get("material") for p in before["notice"]["problems"]] == [ASKED]
        proof = upload(applicant, ASKED, pdf("supplement-scope:clear-premises-proof"))["id"]

        refused = applicant.post(
            f"/api/cases/{case_id}/supplement", json={"data": RENAMED, "materials": {ASKED: proof}}
        )
        assert refused.status_code == 422, refused.text
        named = sorted((p["where"], p["rule"]) for p in refused.json()["detail"])
        assert named == [("company_name", "not-asked"), ("legal_rep_name", "not-asked")]
        assert applicant.get(f"/api/cases/{case_id}").json() == before

        taken = applicant.post(
            f"/api/cases/{case_id}/supplement", json={"data": {}, "materials": {ASKED: proof}}
        )
        assert taken.status_code == 200, taken.text
        assert taken.json()["status"] == "running"
        assert taken.json()["data"]["company_name"] == before["data"]["company_name"]


def signed_in_page(server: LiveServer, username: str) -> tuple[httpx.Client, str]:
    """A browser-like client signed in through the login form, and its CSRF token."""
    browser = server.client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
    assert token is not None
    answer = browser.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token[1]}
    )
    assert answer.status_code == 303, answer.text
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
    assert fresh is not None
    return browser, fresh[1]


def test_the_supplement_page_refuses_a_field_the_notice_did_not_ask(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        case_id, before = returned_for_one_material(server, applicant)
    browser, csrf = signed_in_page(server, "applicant1")
    try:
        page = browser.get(f"/cases/{case_id}")
        assert 'name="company_name"' not in page.text  # the page offers only what was asked
        # A hand-made post naming the fields anyway: the engine's rule holds on the page too.
        forged = browser.post(
            f"/cases/{case_id}/supplement",
            data={"csrf_token": csrf, "asked": ["company_name", "legal_rep_name"], **RENAMED},
        )
    finally:
        browser.close()
    assert forged.status_code == 422, forged.text[:300]
    with server.as_user("applicant1") as applicant:
        assert applicant.get(f"/api/cases/{case_id}").json() == before
