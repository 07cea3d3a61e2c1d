"""The case code (办件编码) over real HTTP: in the case and the list (REST) and on the applicant's pages."""

from __future__ import annotations

import re

import httpx

from engine.people.accounts import DEMO_PASSWORD
from tests.api.support import LiveServer
from tests.api.walking import apply, bundle_example

BUNDLE = "enterprise-startup"


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
