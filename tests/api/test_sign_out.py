"""Sign-out ends the session on the server: a cookie copied before it no longer signs in.

"Sign out everywhere" also ends the account's bearer tokens; a plain sign-out leaves them.
On SQLite and PostgreSQL (the generations live in the accounts table).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from api.pages.security import SESSION_COOKIE
from engine.people.accounts import DEMO_PASSWORD
from engine.storage.settings import Settings
from tests.api.support import LiveServer, live_server

CLERK = "clerk.market-regulation"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on a fresh database of each backend."""
    root = tmp_path_factory.mktemp("sign-out")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'onething.db'}"
    else:
        url = request.getfixturevalue("pg_cluster").create_database()
    with live_server(Settings(database_url=url, data_dir=root / "var")) as running:
        yield running


def csrf_of(html: str) -> str:
    """The CSRF token a page's form carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def page_sign_in(server: LiveServer, username: str) -> httpx.Client:
    """A client signed in through the login form."""
    browser = server.client()
    csrf = csrf_of(browser.get("/login").text)
    answer = browser.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": csrf}
    )
    assert answer.status_code == 303, answer.text
    return browser


def with_cookie(server: LiveServer, cookie: str) -> httpx.Client:
    """A second client that replays a copied session cookie."""
    return server.client(cookies={SESSION_COOKIE: cookie})


def sign_out(browser: httpx.Client, everywhere: bool = False) -> None:
    """Press the sign-out button (or "sign out everywhere")."""
    csrf = csrf_of(browser.get("/").text)
    form = {"csrf_token": csrf} | ({"everywhere": "1"} if everywhere else {})
    assert browser.post("/logout", data=form).status_code == 303


def test_a_cookie_copied_before_sign_out_is_refused_right_after(server: LiveServer) -> None:
    browser = page_sign_in(server, CLERK)
    other_browser = page_sign_in(server, CLERK)
    copied = browser.cookies[SESSION_COOKIE]
    with with_cookie(server, copied) as thief:
        assert thief.get("/inbox").status_code == 200
        sign_out(browser)
        refused = thief.get("/inbox")
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    # The account's other page sessions end with it (one sign-out ends them all).
    assert other_browser.get("/inbox").status_code == 303
    # Signing in again works, with a new cookie.
    again = page_sign_in(server, CLERK)
    assert again.get("/inbox").status_code == 200
    for client in (browser, other_browser, again):
        client.close()


def test_sign_out_everywhere_ends_bearer_tokens_and_a_plain_sign_out_does_not(server: LiveServer) -> None:
    with server.client() as anonymous:
        answer = anonymous.post("/api/auth/token", data={"username": "analyst", "password": DEMO_PASSWORD})
    token = answer.json()["access_token"]
    with server.client(token) as api:
        browser = page_sign_in(server, "analyst")
        sign_out(browser)
        assert api.get("/api/auth/me").status_code == 200

        browser = page_sign_in(server, "analyst")
        sign_out(browser, everywhere=True)
        refused = api.get("/api/auth/me")
        assert refused.status_code == 401 and "退出" in refused.json()["detail"]
        browser.close()
    fresh = server.token("analyst")
    with server.client(fresh) as api:
        assert api.get("/api/auth/me").status_code == 200
