"""An attacker locks only their own address out of an account; guessing spread wide still waits.

A real server on one database (SQLite file, PostgreSQL); clients send from different
loopback addresses (127.0.0.2, 127.0.0.3, ...) so the server sees each as its own client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.people.accounts import DEMO_PASSWORD
from engine.storage.settings import Settings
from tests.api.support import LiveServer, live_server


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server on a fresh database: 5 failures per pair, 12 per username, 1 s first waits."""
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path / "var",
        sign_in_pair_failures=5,
        sign_in_account_failures=12,
        sign_in_client_failures=30,
        sign_in_backoff_seconds=1.0,
        sign_in_backoff_max_seconds=60.0,
        sign_in_account_backoff_max_seconds=1.0,
        sign_in_forget_seconds=60.0,
    )
    with live_server(settings) as running:
        yield running


def from_address(server: LiveServer, address: str) -> httpx.Client:
    """A client of the server whose connections come from this loopback address."""
    return server.client(transport=httpx.HTTPTransport(local_address=address))


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    """The answer of the API's sign-in."""
    return client.post("/api/auth/token", data={"username": username, "password": password})


def locks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The throttle's lock lines, in order."""
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("sign-in locked")]


def test_an_attacker_failing_twenty_times_does_not_stop_the_real_user_elsewhere(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="engine.people.sign_in")
    with from_address(server, "127.0.0.2") as attacker, from_address(server, "127.0.0.3") as user:
        answers = [sign_in(attacker, "applicant1", f"guess-{n}").status_code for n in range(20)]
        assert answers == [401] * 5 + [429] * 15
        # The attacker's own address waits, even with the right password.
        refused = sign_in(attacker, "applicant1", DEMO_PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        # The real user, from another address, signs in at once.
        signed_in = sign_in(user, "applicant1", DEMO_PASSWORD)
        assert signed_in.status_code == 200, signed_in.text
        assert "access_token" in signed_in.json()
        # Their success clears their own count, not the attacker's lock.
        assert sign_in(attacker, "applicant1", DEMO_PASSWORD).status_code == 429
    lock = "sign-in locked: account:applicant1 from client:127.0.0.2 after 5 failures for 1 s"
    assert locks(caplog) == [lock]


def test_guessing_one_username_from_many_addresses_waits_with_retry_after(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="engine.people.sign_in")
    for n in range(12):  # 3 guesses from each of 4 addresses: no pair reaches its 5
        with from_address(server, f"127.0.0.{10 + n // 3}") as guesser:
            assert sign_in(guesser, "applicant1", f"guess-{n}").status_code == 401
    with from_address(server, "127.0.0.50") as fresh:
        refused = sign_in(fresh, "applicant1", DEMO_PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) == 1
        assert "登录失败次数过多" in refused.json()["detail"]
        # Another username from the same fresh address is not held back.
        assert sign_in(fresh, "applicant2", DEMO_PASSWORD).status_code == 200
    assert locks(caplog) == ["sign-in locked: account:applicant1 after 12 failures for 1 s"]

    time.sleep(1.2)
    with from_address(server, "127.0.0.14") as guesser:
        assert sign_in(guesser, "applicant1", "guess-12").status_code == 401
        again = sign_in(guesser, "applicant1", DEMO_PASSWORD)
    # The username-wide wait doubles no further than its own cap (1 s here; pairs may reach 60 s).
    assert again.status_code == 429 and int(again.headers["Retry-After"]) == 1
    assert locks(caplog)[1:] == ["sign-in locked: account:applicant1 after 13 failures for 1 s"]
