"""Repeated wrong passwords make the username or the client wait: 429 with Retry-After.

Two servers share one database (SQLite file, PostgreSQL) like ``serve`` processes behind a
load balancer: the counters are the database's, so a lock made through one holds on the
other. Waits are a second or two here (the settings take small numbers).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from engine.people.accounts import DEMO_PASSWORD
from engine.storage.settings import Settings
from tests.api.support import LiveServer, live_server


@pytest.fixture
def servers(db_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers on one fresh database with small sign-in thresholds."""
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path / "var",
        sign_in_account_failures=3,
        sign_in_client_failures=8,
        sign_in_backoff_seconds=1.0,
        sign_in_backoff_max_seconds=2.0,
        sign_in_forget_seconds=60.0,
    )
    with ExitStack() as stack:
        first = stack.enter_context(live_server(settings))
        second = stack.enter_context(live_server(settings))
        yield first, second


def token_answer(client: httpx.Client, username: str, password: str) -> httpx.Response:
    """The answer of the API's sign-in."""
    return client.post("/api/auth/token", data={"username": username, "password": password})


def csrf_of(html: str) -> str:
    """The CSRF token a page's form carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_api_locks_a_username_after_repeated_failures_even_for_the_right_password(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    first, second = servers
    with first.client() as one, second.client() as other:
        for _ in range(3):
            assert token_answer(one, "applicant1", "wrong-password").status_code == 401
        locked = token_answer(one, "applicant1", DEMO_PASSWORD)
        assert locked.status_code == 429, locked.text
        wait = int(locked.headers["Retry-After"])
        assert 1 <= wait <= 2
        detail = locked.json()["detail"]
        assert "登录失败次数过多" in detail and "try again in" in detail
        assert "access_token" not in locked.text
        # The other process reads the same counter.
        assert token_answer(other, "applicant1", DEMO_PASSWORD).status_code == 429

        time.sleep(wait + 0.2)
        assert token_answer(other, "applicant1", DEMO_PASSWORD).status_code == 200
        # The success cleared the username's failures: three more are free again.
        for _ in range(2):
            assert token_answer(one, "applicant1", "wrong-password").status_code == 401
        assert token_answer(one, "applicant1", DEMO_PASSWORD).status_code == 200


def test_the_login_page_names_the_wait_in_chinese(servers: tuple[LiveServer, LiveServer]) -> None:
    first, _ = servers
    with first.client() as browser:
        csrf = csrf_of(browser.get("/login").text)
        form = {"username": "clerk.market-regulation", "csrf_token": csrf}
        for _ in range(3):
            assert browser.post("/login", data=form | {"password": "wrong-password"}).status_code == 401
        page = browser.post("/login", data=form | {"password": DEMO_PASSWORD})
        assert page.status_code == 429
        assert 1 <= int(page.headers["Retry-After"]) <= 2
        assert "登录失败次数过多" in page.text and re.search(r"请 \d+ 秒后再试", page.text)
        assert browser.get("/inbox").status_code == 303  # not signed in
        # The page and the API count the same username.
        assert token_answer(browser, "clerk.market-regulation", DEMO_PASSWORD).status_code == 429


def test_one_client_spraying_many_usernames_waits_and_others_do_not(
    servers: tuple[LiveServer, LiveServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="engine.people.sign_in")
    first, second = servers
    sprayer = httpx.HTTPTransport(local_address="127.0.0.2")
    with first.client(transport=sprayer) as attacker, second.client() as bystander:
        for n in range(8):  # one guess per username: no username reaches its own limit
            assert token_answer(attacker, f"user{n}", "123456").status_code == 401
        refused = token_answer(attacker, "applicant2", DEMO_PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert token_answer(bystander, "applicant2", DEMO_PASSWORD).status_code == 200
    locks = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sign-in locked")]
    assert locks == ["sign-in locked: client:127.0.0.2 after 8 failures for 1 s"]
