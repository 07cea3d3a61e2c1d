"""The sign-in throttle's counters and the session generations, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, text

from engine.errors import TooManyAttempts
from engine.people.accounts import DEMO_PASSWORD, AccountService
from engine.people.actors import Role
from engine.people.sign_in import SignInThrottle, ThrottlePolicy
from engine.storage.db import Database, alembic_config
from engine.time.clock import ManualClock

POLICY = ThrottlePolicy(
    account_failures=3,
    client_failures=5,
    backoff=timedelta(seconds=30),
    backoff_max=timedelta(minutes=2),
    forget=timedelta(hours=1),
)
START = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def accounts(db_url: str) -> AccountService:
    """Accounts on a fresh database with a throttle on a manual clock, and one real account."""
    db = Database(db_url)
    db.upgrade()
    service = AccountService(db, throttle=SignInThrottle(db, POLICY, ManualClock(START)))
    service.ensure_demo_accounts([])
    return service


def clock_of(accounts: AccountService) -> ManualClock:
    """The manual clock the fixture's throttle runs on."""
    clock = accounts.throttle.clock
    assert isinstance(clock, ManualClock)
    return clock


def refusal(accounts: AccountService, username: str, password: str, client: str) -> int:
    """The Retry-After of a refused sign-in (fails when the sign-in is not refused)."""
    with pytest.raises(TooManyAttempts) as refused:
        accounts.sign_in(username, password, client)
    return refused.value.retry_after


def test_waits_double_up_to_the_cap_and_a_right_password_waits_too(
    accounts: AccountService, caplog: pytest.LogCaptureFixture
) -> None:
    clock = clock_of(accounts)
    caplog.set_level(logging.WARNING, logger="engine.people.sign_in")
    for n in range(3):  # from three clients: the username's count is theirs together
        assert accounts.sign_in("applicant1", "wrong", f"10.0.0.{n}") is None
    # Locked: the right password gets the same refusal, from any client, without extending it.
    assert refusal(accounts, "applicant1", DEMO_PASSWORD, "10.0.0.1") == 30
    clock.advance(timedelta(seconds=10))
    assert refusal(accounts, "applicant1", DEMO_PASSWORD, "10.9.9.9") == 20
    waits = []
    for n in range(3):
        clock.advance(timedelta(minutes=2, seconds=1))
        assert accounts.sign_in("applicant1", "wrong", f"10.0.1.{n}") is None
        waits.append(refusal(accounts, "applicant1", DEMO_PASSWORD, "10.0.0.1"))
    assert waits == [60, 120, 120]  # doubled, then capped at backoff_max
    locks = [r.getMessage() for r in caplog.records if "sign-in locked" in r.getMessage()]
    assert len(locks) == 4 and all("account:applicant1" in line for line in locks)

    clock.advance(timedelta(minutes=2, seconds=1))
    assert accounts.sign_in("applicant1", DEMO_PASSWORD, "10.0.0.1") is not None
    # The success cleared the username's count: three fresh failures before the next wait.
    for _ in range(2):
        assert accounts.sign_in("applicant1", "wrong", "10.0.0.1") is None
    assert accounts.sign_in("applicant1", DEMO_PASSWORD, "10.0.0.1") is not None


def test_one_client_spraying_many_usernames_is_stopped_and_another_client_is_not(
    accounts: AccountService,
) -> None:
    for n in range(5):  # one failure per username: no username reaches its limit
        assert accounts.sign_in(f"guess{n}", "wrong", "2001:db8::1") is None
    # The whole /64 waits, for every username, known or not, right password or not.
    assert refusal(accounts, "applicant1", DEMO_PASSWORD, "2001:db8::ffff") == 30
    assert refusal(accounts, "guess9", "wrong", "2001:db8::2") == 30
    assert accounts.sign_in("applicant1", DEMO_PASSWORD, "2001:db8:1::1") is not None
    # A success of the attacker's own account does not clear the client's count.
    clock_of(accounts).advance(timedelta(seconds=31))
    assert accounts.sign_in("applicant2", DEMO_PASSWORD, "2001:db8::1") is not None
    assert accounts.sign_in("guess6", "wrong", "2001:db8::1") is None
    assert refusal(accounts, "guess7", "wrong", "2001:db8::1") == 60


def test_failures_are_forgotten_after_a_quiet_spell(accounts: AccountService) -> None:
    clock = clock_of(accounts)
    for _ in range(2):
        assert accounts.sign_in("applicant1", "wrong", "10.0.0.1") is None
    clock.advance(timedelta(hours=1, seconds=1))
    for _ in range(2):
        assert accounts.sign_in("applicant1", "wrong", "10.0.0.1") is None
    assert accounts.sign_in("applicant1", DEMO_PASSWORD, "10.0.0.1") is not None


def test_sign_out_moves_the_generations_on(accounts: AccountService) -> None:
    before = accounts.get("applicant1")
    accounts.sign_out("applicant1")
    after = accounts.get("applicant1")
    assert after.session_generation == before.session_generation + 1
    assert after.token_generation == before.token_generation
    assert after.session_version != before.session_version
    accounts.sign_out("applicant1", everywhere=True)
    assert accounts.get("applicant1").token_generation == before.token_generation + 1
    changed = accounts.set_password("applicant1", "a-long-passphrase")
    assert changed.token_generation == before.token_generation + 2


def test_the_migration_upgrades_a_database_with_accounts(db_url: str) -> None:
    db = Database(db_url)
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004_idempotency_outcome")
    old = AccountService(db)
    hashed = old.hasher.hash("a-long-passphrase")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (username, password_hash, role, departments, display_name,"
                " supervisor, active, created_at) VALUES ('old.analyst', :h, 'analyst', '[]', '',"
                " false, true, :at)"
            ),
            {"h": hashed, "at": START.replace(tzinfo=None)},
        )
    assert "sign_in_failures" not in inspect(db.engine).get_table_names()

    db.upgrade()
    assert "sign_in_failures" in inspect(db.engine).get_table_names()
    accounts = AccountService(db)
    view = accounts.sign_in("old.analyst", "a-long-passphrase", "127.0.0.1")
    assert view is not None and view.role is Role.ANALYST
    assert (view.session_generation, view.token_generation) == (0, 0)
    db.dispose()
