"""Over real HTTP: the case code (办件编码) in REST and on the pages; a system step as its viewers see it.

The applicant reads a department system's step as at work (部门系统处理中), an incident
included, and never its error text; staff read the incident and its error.
"""

from __future__ import annotations

import re

import httpx

from engine.cases.external_views import TopicRequest
from engine.people.accounts import DEMO_PASSWORD
from engine.people.actors import Actor, Role
from tests.api.support import LiveServer
from tests.api.walking import apply, approve, bundle_example, open_tasks_of

BUNDLE = "enterprise-startup"
TAX_SYSTEM = Actor("system.tax", Role.SYSTEM, frozenset({"tax"}))
SECRET = "ORA-00942: table or view does not exist"


def test_the_code_is_in_rest_answers_and_on_the_applicants_pages(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        started = apply(applicant, BUNDLE, bundle_example(applicant, BUNDLE, 0), "case-code")
        assert started.status_code == 201, started.text
        case = started.json()
        case_id, code = case["id"], case["code"]
        # The default pattern: the China-local date of submission and the id padded to eight digits.
        assert re.fullmatch(r"20\d{6}" + f"{case_id:08d}", code), code
        assert applicant.get(f"/api/cases/{case_id}").json()["code"] == code
        listed = {c["id"]: c["code"] for c in applicant.get("/api/cases").json()["items"]}
        assert listed[case_id] == code

    browser = signed_in(server, "applicant1")
    page = browser.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert "办件编码" in page.text and f'<code id="case-code">{code}</code>' in page.text
    mine = browser.get("/cases")
    assert mine.status_code == 200 and f"<code>{code}</code>" in mine.text


def signed_in(server: LiveServer, username: str) -> httpx.Client:
    """A browser-like client signed in through the login form (pages use a session cookie)."""
    browser = server.client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
    assert token is not None
    answer = browser.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token[1]}
    )
    assert answer.status_code == 303, answer.text
    return browser


def test_an_incident_is_at_work_for_the_applicant_and_an_error_for_staff(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, BUNDLE, 0)
        started = apply(applicant, BUNDLE, example, "system-step")
        assert started.status_code == 201, started.text
        case_id = started.json()["id"]
    with server.as_user("clerk.market-regulation") as registrar:
        for task in open_tasks_of(registrar, case_id, BUNDLE):
            approve(registrar, task, example["decisions"])
    # The tax system takes its task and fails it with no retries left: an incident.
    locked = server.engine.fetch_and_lock(TAX_SYSTEM, "tax-worker", 50, [TopicRequest("tax", 60_000, None)])
    (mine,) = [t for t in locked if t.case_id == case_id]
    for other in locked:
        if other.case_id != case_id:
            server.engine.unlock(TAX_SYSTEM, other.id)
    server.engine.fail_external(TAX_SYSTEM, mine.id, "tax-worker", SECRET, "stack trace", 0, 0)

    page = signed_in(server, "applicant1").get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert "部门系统处理中" in page.text
    assert SECRET not in page.text and "故障" not in page.text and "stack trace" not in page.text

    staff = signed_in(server, "analyst").get(f"/cases/{case_id}")
    assert staff.status_code == 200
    assert "部门系统故障（待处理）" in staff.text and SECRET in staff.text
