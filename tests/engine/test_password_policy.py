"""New passwords must not be common or easy to guess; the demo accounts keep their password."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidInput
from engine.people.accounts import DEMO_PASSWORD, AccountService
from engine.people.passwords import password_problems
from engine.storage.db import Database

WEAK = ["password", "12345678", " " * 8, "qwertyuiop", "11111111", "abcdefgh", "P@ssw0rd2024", "iloveyou1"]
STRONG = [
    "a-long-passphrase",
    "wang-passphrase",
    "correct horse battery staple",
    "Tr0ub4dor&3",
    "办事窗口排队三小时",
]


@pytest.mark.parametrize("password", WEAK)
def test_common_and_low_entropy_passwords_are_refused_in_both_languages(password: str) -> None:
    (problem,) = password_problems(password, "zhang.wei")
    assert (problem.where, problem.rule) == ("password", "strength")
    assert "密码过于常见或容易猜到" in problem.message
    assert "too common or easy to guess" in problem.message_en


@pytest.mark.parametrize("password", STRONG)
def test_long_uncommon_passwords_pass(password: str) -> None:
    assert password_problems(password, "zhang.wei") == []


def test_the_username_inside_the_password_counts_as_known() -> None:
    assert password_problems("wangfang.clerk", "wangfang.clerk") != []
    assert password_problems("wangfang.clerk", "li.lei") == []


def test_length_is_checked_first_and_a_long_password_is_estimated_quickly() -> None:
    (short,) = password_problems("Zq9#", "")
    assert short.rule == "length"
    assert password_problems("x" * 2000, "")[0].rule == "length"
    assert password_problems("Zq9#vL2!" + "x" * 1000, "") == []


@pytest.fixture
def accounts(tmp_path: Path) -> AccountService:
    """Accounts on a fresh SQLite file."""
    db = Database(f"sqlite:///{tmp_path / 'onething.db'}")
    db.upgrade()
    return AccountService(db)


def test_create_and_password_change_refuse_weak_passwords(accounts: AccountService) -> None:
    with pytest.raises(InvalidInput) as refused:
        accounts.create("zhang.wei", "12345678", "applicant")
    assert [p.rule for p in refused.value.problems] == ["strength"]
    accounts.create("zhang.wei", "a-long-passphrase", "applicant")
    with pytest.raises(InvalidInput):
        accounts.set_password("zhang.wei", "password")
    assert accounts.authenticate("zhang.wei", "a-long-passphrase") is not None


def test_demo_accounts_keep_the_documented_password(accounts: AccountService) -> None:
    assert password_problems(DEMO_PASSWORD) != []  # "demo" would never pass the policy,
    accounts.ensure_demo_accounts(["market-regulation"])  # but demo accounts are made by code
    for username in ("applicant1", "admin", "clerk.market-regulation"):
        assert accounts.authenticate(username, DEMO_PASSWORD) is not None
