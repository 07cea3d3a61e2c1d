"""Finding 9: every page sends a strict Content-Security-Policy and cannot be framed.

The headers are read from the real server for each kind of page and user; chromium then
shows that the policy holds: a script or event handler written into a page does not run
(and is reported, which is what the ``page`` fixture watches for on every browser test),
and a page loaded in another site's frame is refused.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import LiveServer, csp_violations, csrf_of, sign_in

pytestmark = pytest.mark.browser

# (who signs in, the pages they open); None: signed out.
PAGES: dict[str | None, tuple[str, ...]] = {
    None: ("/login",),
    "applicant1": ("/", "/cases", "/apply/enterprise-startup"),
    "clerk.market-regulation": ("/inbox",),
    "analyst": ("/studio", "/studio/enterprise-startup", "/studio/enterprise-startup/edit"),
}


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header as directive -> its values."""
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def signed_in(server: LiveServer, username: str | None) -> httpx.Client:
    """A client with a page session (the login form, as a browser posts it)."""
    client = httpx.Client(base_url=server.url, timeout=30)
    if username is not None:
        token = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
        assert answer.status_code == 303, answer.text[:300]
    return client


@pytest.mark.parametrize("username", list(PAGES), ids=lambda u: u or "signed-out")
def test_every_page_sends_a_strict_policy_and_cannot_be_framed(
    server: LiveServer, username: str | None
) -> None:
    client = signed_in(server, username)
    try:
        for path in PAGES[username]:
            answer = client.get(path)
            assert answer.headers["content-type"].startswith("text/html"), path
            policy = directives(answer.headers["content-security-policy"])
            assert policy["script-src"] == ["'self'"], (path, policy)
            assert policy["frame-ancestors"] == ["'none'"], path
            assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"], path
            assert not any("unsafe" in value for value in policy["default-src"]), path
            assert answer.headers["x-content-type-options"] == "nosniff", path
            assert answer.headers["referrer-policy"] == "same-origin", path
    finally:
        client.close()


def test_only_fastapis_api_docs_may_load_their_cdn_and_none_can_be_framed(server: LiveServer) -> None:
    docs = directives(httpx.get(f"{server.url}/docs").headers["content-security-policy"])
    assert "https://cdn.jsdelivr.net" in docs["script-src"] and docs["frame-ancestors"] == ["'none'"]
    login = directives(httpx.get(f"{server.url}/login").headers["content-security-policy"])
    assert login["script-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/healthz", "/static/app.js", "/api/bundles", "/openapi.json"])
def test_every_other_answer_is_sandboxed_and_not_sniffed(server: LiveServer, path: str) -> None:
    answer = httpx.get(f"{server.url}{path}")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    policy = directives(answer.headers["content-security-policy"])
    assert "sandbox" in policy and policy["default-src"] == ["'none'"]


def test_a_script_written_into_a_page_does_not_run_and_is_reported(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(locale="zh-CN", base_url=server.url)
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        sign_in(page, "applicant1")
        page.evaluate(
            """() => {
              const script = document.createElement("script");
              script.textContent = "window.__inline = 1";
              document.body.appendChild(script);
              const box = document.createElement("div");
              box.innerHTML = '<img src="/no-such-image" onerror="window.__handler = 1">';
              document.body.appendChild(box);
              setTimeout(() => { try { eval("window.__eval = 1"); } catch (e) {} }, 0);
            }"""
        )
        page.wait_for_timeout(500)
        ran = page.evaluate("[typeof window.__inline, typeof window.__handler, typeof window.__eval]")
        assert ran == ["undefined", "undefined", "undefined"]
        assert len(csp_violations(console)) >= 2, console
    finally:
        context.close()


def test_another_site_cannot_frame_a_page(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.set_content(f'<iframe id="framed" src="{server.url}/login" width="600" height="400"></iframe>')
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        framed = [frame for frame in page.frames if frame is not page.main_frame]
        assert framed, "the iframe was not created"
        assert all(frame.locator("input[name=username]").count() == 0 for frame in framed)
    finally:
        context.close()
