"""Fixtures of the security corpus: one real server per module, its callers, and a victim.

``security_server`` is a live uvicorn server on a fresh SQLite file with the shipped bundles
and the demo accounts. ``victim`` plants on it what belongs to ``applicant2`` (the same
resources as the API authorisation matrix, ``tests.api.test_authorization.plant_victim``).
``api_callers`` holds one bearer client per role of ``CALLERS`` (each signs in once: the
sign-in throttle is never touched); ``page_callers`` one signed-in browser-like client per
role (session cookie and CSRF token). The payloads the tests send live beside them as data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.pages.security import SESSION_COOKIE, PageSession, SessionSigner
from api.security import TokenService, signing_key
from engine.bpmn.deployments import load_departments
from engine.people.accounts import DEMO_PASSWORD, AccountService
from engine.time.clock import ManualClock
from tests.api.support import LiveServer, sqlite_server
from tests.api.test_authorization import Victim, plant_victim

HERE = Path(__file__).resolve().parent

# Who calls: a role of the corpus -> the demo account it signs in as (None: no valid token).
# The victim's resources belong to applicant2 and the public-security department; every
# account here is a stranger to them except where route_roles.yaml says otherwise.
CALLERS: dict[str, str | None] = {
    "anonymous": None,
    "forged": None,  # a token no server signed
    "expired": None,  # the owner's own token, correctly signed, a day past its end
    "applicant": "applicant1",
    "clerk": "clerk.market-regulation",  # a department school enrolment never reaches
    "supervisor": "supervisor.market-regulation",
    "analyst": "analyst",
    "admin": "admin",
    "system": "system.market-regulation",  # the department's own system (/engine-rest)
}
OWNER = "applicant2"
FORGED_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhZG1pbiIsInB3diI6IngiLCJnZW4iOjAsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwfQ."
    "c2lnbmVkIGJ5IG5vYm9keQ"
)


@dataclass
class PageCaller:
    """A signed-in page session: the client carries the cookie, ``csrf`` the form token."""

    client: httpx.Client
    csrf: str


@pytest.fixture(scope="module")
def security_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module (a module may change accounts, cases and tasks)."""
    with sqlite_server(tmp_path_factory.mktemp("security")) as running:
        yield running


@pytest.fixture(scope="module")
def victim(security_server: LiveServer) -> Victim:
    """applicant2's case, task, material, complaint, supervisor entry and rectification."""
    return plant_victim(security_server)


def expired_token(server: LiveServer, username: str) -> str:
    """A token of ``username`` signed with the server's own key that ran out a day ago."""
    accounts = AccountService(server.engine.db, load_departments(server.settings.processes_dir))
    account = accounts.find_active(username)
    assert account is not None
    past = ManualClock(datetime.now(UTC) - timedelta(days=1))
    return TokenService(signing_key(server.settings), minutes=5, clock=past).issue(account)


def bearer(server: LiveServer, role: str) -> str | None:
    """The bearer token a role of ``CALLERS`` sends (None for anonymous)."""
    if role == "forged":
        return FORGED_TOKEN
    if role == "expired":
        return expired_token(server, OWNER)
    username = CALLERS[role]
    return None if username is None else server.token(username)


@pytest.fixture(scope="module")
def api_callers(security_server: LiveServer) -> Iterator[dict[str, httpx.Client]]:
    """role -> an API client for every role of ``CALLERS`` (plus ``owner``: applicant2 itself)."""
    clients = {role: security_server.client(bearer(security_server, role)) for role in CALLERS}
    clients["owner"] = security_server.as_user(OWNER)
    yield clients
    for client in clients.values():
        client.close()


def csrf_of(html: str) -> str:
    """The CSRF token of a page's forms."""
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def sign_in_pages(server: LiveServer, username: str) -> PageCaller:
    """A client signed in through the login form, as a browser would."""
    client = httpx.Client(base_url=server.base_url, timeout=60)
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text[:300]
    return PageCaller(client, csrf_of(client.get("/login").text))


def forged_session() -> str:
    """An admin's session cookie signed with a key that is not the server's."""
    stranger = SessionSigner(b"not the server's key")
    return stranger.dump(PageSession.signed_in("admin", "x"))


def expired_session(server: LiveServer, username: str) -> str:
    """``username``'s own session cookie, signed with the server's key, that ran out a day ago."""
    signer = SessionSigner(signing_key(server.settings))
    caller = sign_in_pages(server, username)
    session = signer.load(caller.client.cookies[SESSION_COOKIE])
    caller.client.close()
    assert session is not None
    return signer.dump(replace(session, expires=int(time.time()) - 86400))


def _cookie_caller(server: LiveServer, cookie: str) -> PageCaller:
    client = httpx.Client(base_url=server.base_url, timeout=60, cookies={SESSION_COOKIE: cookie})
    return PageCaller(client, csrf="")


@pytest.fixture(scope="module")
def page_callers(security_server: LiveServer) -> Iterator[dict[str, PageCaller]]:
    """role -> a page session: anonymous, each signed-in role of ``CALLERS``, ``owner``, and
    ``forged`` / ``expired`` (an admin's cookie under another key; the owner's, out of date)."""
    anonymous = httpx.Client(base_url=security_server.base_url, timeout=60)
    callers = {"anonymous": PageCaller(anonymous, csrf_of(anonymous.get("/login").text))}
    for role, username in CALLERS.items():
        if username is not None:
            callers[role] = sign_in_pages(security_server, username)
    callers["owner"] = sign_in_pages(security_server, OWNER)
    callers["forged"] = _cookie_caller(security_server, forged_session())
    callers["expired"] = _cookie_caller(security_server, expired_session(security_server, OWNER))
    yield callers
    for caller in callers.values():
        caller.client.close()
