"""The account behind a bearer token is checked once and kept a moment, never past a change.

``api.signed_in`` answers a burst of requests with the same token from memory. What it must
never do: keep an account past a change made in this process (disabled, new departments,
signed out), past its lifetime (a change made by another process), or past the token.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from api.errors import NotAuthenticated
from api.security import TokenService
from api.signed_in import LIFETIME, SignedInCache
from engine.people.accounts import AccountService, AccountView
from engine.people.actors import Role
from engine.people.changes import AccountChanges
from engine.storage.db import Database
from tests.api.support import ROOT, LiveServer, onething_command
from tests.api.walking import apply, bundle_example, open_tasks_of

PASSWORD = "a-long-passphrase-7"
KEY = b"k" * 40


class Clock:
    """Seconds since the epoch that a test moves by hand (starts at the real now)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def accounts(sqlite_url: str) -> Iterator[AccountService]:
    """Accounts on a fresh SQLite file with one clerk of market regulation."""
    db = Database(sqlite_url)
    db.upgrade()
    service = AccountService(db)
    service.create("clerk.li", PASSWORD, Role.CLERK, ["market-regulation"])
    yield service
    db.dispose()


def test_a_checked_token_is_answered_from_memory_until_its_lifetime_ends(accounts: AccountService) -> None:
    tokens, clock = TokenService(KEY, 30), Clock()
    cache = SignedInCache(lifetime=1.0, clock=clock)
    token = tokens.issue(accounts.get("clerk.li"))
    assert cache.get(token) is None  # nothing kept before the first check
    assert cache.check(token, tokens, accounts).username == "clerk.li"
    # Disabled behind the service's back (as another process would): the kept account still
    # answers within its lifetime, which is the bound on what another process's change waits.
    with accounts.db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE accounts SET active = false WHERE username = 'clerk.li'")
    clock.now += 0.9
    kept = cache.get(token)
    assert kept is not None and kept.username == "clerk.li"
    clock.now += 0.1
    assert cache.get(token) is None
    with pytest.raises(NotAuthenticated):
        cache.check(token, tokens, accounts)


def test_a_change_by_any_account_service_of_the_process_is_seen_by_the_next_request(
    accounts: AccountService,
) -> None:
    tokens, cache = TokenService(KEY, 30), SignedInCache(lifetime=60.0)
    token = tokens.issue(accounts.get("clerk.li"))
    assert cache.check(token, tokens, accounts).departments == ("market-regulation",)
    assert cache.get(token) is not None
    # Another instance, as the CLI or the pages hold: the change reaches this cache too.
    other = AccountService(accounts.db)
    other.update("clerk.li", departments=["tax"])
    assert cache.get(token) is None
    assert cache.check(token, tokens, accounts).departments == ("tax",)
    other.disable("clerk.li")
    assert cache.get(token) is None
    with pytest.raises(NotAuthenticated):
        cache.check(token, tokens, accounts)


def test_a_sign_out_everywhere_ends_the_kept_token_at_once(accounts: AccountService) -> None:
    tokens, cache = TokenService(KEY, 30), SignedInCache(lifetime=60.0)
    token = tokens.issue(accounts.get("clerk.li"))
    cache.check(token, tokens, accounts)
    accounts.sign_out("clerk.li", everywhere=True)
    assert cache.get(token) is None
    with pytest.raises(NotAuthenticated):
        cache.check(token, tokens, accounts)


def test_a_change_committed_while_the_account_was_read_keeps_nothing(accounts: AccountService) -> None:
    changes = AccountChanges()

    class RacedAccounts(AccountService):
        """Reads the row, then another request's change commits before the check ends."""

        def find_active(self, username: str) -> AccountView | None:
            found = super().find_active(username)
            changes.bump()
            return found

    raced = RacedAccounts(accounts.db)
    tokens, cache = TokenService(KEY, 30), SignedInCache(lifetime=60.0, changes=changes)
    token = tokens.issue(accounts.get("clerk.li"))
    assert cache.check(token, tokens, raced).username == "clerk.li"  # this request is answered
    assert cache.get(token) is None  # but what it read is not trusted for the next one


def test_a_token_is_never_kept_past_its_own_expiry(accounts: AccountService) -> None:
    tokens, clock = TokenService(KEY, 1), Clock()  # a one-minute token
    cache = SignedInCache(lifetime=3600.0, clock=clock)
    token = tokens.issue(accounts.get("clerk.li"))
    claims = tokens.verify(token)
    assert claims is not None
    cache.check(token, tokens, accounts)
    clock.now = claims.expires_at - 0.5
    assert cache.get(token) is not None
    clock.now = claims.expires_at
    assert cache.get(token) is None


def test_failures_are_never_kept_and_entries_are_bounded(accounts: AccountService) -> None:
    tokens, cache = TokenService(KEY, 30), SignedInCache(lifetime=60.0, max_entries=2)
    with pytest.raises(NotAuthenticated):
        cache.check("forged", tokens, accounts)
    assert cache.get("forged") is None
    issued = [tokens.issue(accounts.get("clerk.li")) for _ in range(3)]  # three tokens (each its own jti)
    for token in issued:
        cache.check(token, tokens, accounts)
    assert cache.get(issued[0]) is None  # the oldest went
    assert cache.get(issued[1]) is not None and cache.get(issued[2]) is not None


def _make_clerk(server: LiveServer, username: str) -> str:
    """A new clerk of public security (made by the admin over HTTP); its bearer token."""
    with server.as_user("admin") as admin:
        made = admin.post(
            "/api/accounts",
            json={
                "username": username,
                "password": PASSWORD,
                "role": "clerk",
                "departments": ["public-security"],
            },
        )
        assert made.status_code == 201, made.text
    return server.token(username, PASSWORD)


def test_a_clerk_disabled_between_claim_and_complete_is_refused_at_once(server: LiveServer) -> None:
    token = _make_clerk(server, "clerk.leaving")
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, "school-enrollment", 0)
        case_id = apply(applicant, "school-enrollment", example, "signed-in").json()["id"]
    with server.client(token) as clerk, server.as_user("admin") as admin:
        (task,) = open_tasks_of(clerk, case_id, "school-enrollment")
        assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200  # the token is kept now
        assert admin.patch("/api/accounts/clerk.leaving", json={"active": False}).status_code == 200
        decision = {"outcome": "approve", "data": example["decisions"].get(task["item"], {}), "comment": "ok"}
        refused = clerk.post(f"/api/tasks/{task['id']}/complete", json=decision)
        assert refused.status_code == 401, refused.text
        assert clerk.get("/api/auth/me").status_code == 401


def test_new_departments_are_seen_by_the_next_request(server: LiveServer) -> None:
    token = _make_clerk(server, "clerk.moving")
    with server.client(token) as clerk, server.as_user("admin") as admin:
        assert clerk.get("/api/auth/me").json()["departments"] == ["public-security"]
        moved = admin.patch("/api/accounts/clerk.moving", json={"departments": ["natural-resources"]})
        assert moved.status_code == 200, moved.text
        assert clerk.get("/api/auth/me").json()["departments"] == ["natural-resources"]
        assert admin.patch(
            "/api/accounts/clerk.moving", json={"role": "applicant", "departments": []}
        ).is_success
        assert clerk.get("/api/tasks").status_code == 403  # an applicant now: no queue


def test_a_disable_from_another_process_is_seen_within_the_lifetime(server: LiveServer) -> None:
    token = _make_clerk(server, "clerk.elsewhere")
    with server.client(token) as clerk:
        assert clerk.get("/api/auth/me").status_code == 200
        environment = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [
            *onething_command(),
            "user",
            "--db",
            server.settings.database_url,
            "disable",
            "clerk.elsewhere",
        ]
        done = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        disabled_at = time.monotonic()
        while clerk.get("/api/auth/me").status_code == 200:
            assert time.monotonic() - disabled_at < LIFETIME + 0.5, "served past the cache's lifetime"
            time.sleep(0.05)
