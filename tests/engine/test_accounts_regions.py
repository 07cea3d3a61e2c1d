"""Accounts carry a division, and a scoped admin manages only its subtree (分级授权), on both backends.

A clerk or system account sits at its office's division (none: the default); an analyst or
admin reaches its division's subtree (none: everything); applicants have none. The ``scope``
of every change is the acting admin's division: a district admin cannot create, see, change
or disable accounts of another district, nor make one that reaches beyond its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from engine.bpmn.deployments import load_departments
from engine.errors import InvalidInput, NotAllowed
from engine.people.accounts import DEMO_PASSWORD, AccountNotFound, AccountService
from engine.people.actors import Role
from engine.regions import Regions
from engine.storage.db import Database
from engine.storage.settings import Settings

PASSWORD = "a-long-passphrase-1"
# Cheap argon2 parameters: these tests are about divisions, not hashing (each create hashes once).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
HUANGPU, XUHUI, HANGZHOU, SHANGCHENG = "310101", "310104", "330100", "330102"


@pytest.fixture
def regions(db_url: str, tmp_path: Path) -> Iterator[Regions]:
    """The shipped division tree on a fresh database."""
    settings = Settings(database_url=db_url, data_dir=tmp_path / "var")
    db = Database(db_url)
    db.upgrade()
    regions = Regions(db, settings)
    regions.load_shipped(settings.processes_dir / "divisions")
    yield regions
    db.dispose()


@pytest.fixture
def accounts(regions: Regions) -> AccountService:
    """Accounts that know the shipped departments and divisions."""
    departments = load_departments(Settings().processes_dir)
    return AccountService(regions.db, departments, hasher=FAST_HASHER, regions=regions)


def rules(exc: InvalidInput) -> list[tuple[str, str]]:
    """(where, rule) of every problem, in order."""
    return [(p.where, p.rule) for p in exc.problems]


def test_a_district_admin_cannot_create_an_account_in_another_district(accounts: AccountService) -> None:
    with pytest.raises(NotAllowed) as refused:
        accounts.create(
            "clerk.xu", PASSWORD, Role.CLERK, ["market-regulation"], division=XUHUI, scope=HUANGPU
        )
    assert HUANGPU in refused.value.message and XUHUI in refused.value.message
    assert "只能管理本辖区" in refused.value.message and "you manage accounts" in refused.value.message
    # Nor at the default division (a clerk without a division), nor one reaching beyond the district.
    with pytest.raises(NotAllowed):
        accounts.create("clerk.none", PASSWORD, Role.CLERK, ["market-regulation"], scope=HUANGPU)
    with pytest.raises(NotAllowed):
        accounts.create("analyst.all", PASSWORD, Role.ANALYST, scope=HUANGPU)
    with pytest.raises(NotAllowed):
        accounts.create("zhang.san", PASSWORD, Role.APPLICANT, scope=HUANGPU)
    assert [a.username for a in accounts.list_accounts()] == []

    made = accounts.create(
        "clerk.hp", PASSWORD, Role.CLERK, ["market-regulation"], division=HUANGPU, scope=HUANGPU
    )
    assert made.division == HUANGPU and made.actor().division == HUANGPU
    analyst = accounts.create("analyst.hp", PASSWORD, Role.ANALYST, division=HUANGPU, scope=HUANGPU)
    assert analyst.actor().division == HUANGPU


def test_a_city_admin_manages_its_districts_and_only_a_platform_admin_makes_unscoped_ones(
    accounts: AccountService,
) -> None:
    clerk = accounts.create("clerk.sc", PASSWORD, Role.CLERK, ["tax"], division=SHANGCHENG, scope=HANGZHOU)
    assert clerk.division == SHANGCHENG
    with pytest.raises(NotAllowed):
        accounts.create("clerk.hp", PASSWORD, Role.CLERK, ["tax"], division=HUANGPU, scope=HANGZHOU)
    with pytest.raises(NotAllowed):
        accounts.create("admin.zj", PASSWORD, Role.ADMIN, division="330000", scope=HANGZHOU)
    # The platform (no scope: a platform admin, or the CLI) makes any of them.
    assert accounts.create("admin.all", PASSWORD, Role.ADMIN).division is None
    assert accounts.create("admin.zj", PASSWORD, Role.ADMIN, division="330000").division == "330000"
    assert accounts.create("zhang.san", PASSWORD, Role.APPLICANT).division is None


def test_unknown_divisions_and_applicants_with_one_are_refused_with_every_problem(
    accounts: AccountService,
) -> None:
    with pytest.raises(InvalidInput) as unknown:
        accounts.create("clerk.x", "short", Role.CLERK, ["market-regulation"], division="999999")
    assert ("division", "known-division") in rules(unknown.value)
    assert any(where == "password" for where, _ in rules(unknown.value))  # all problems at once
    with pytest.raises(InvalidInput) as applicant:
        accounts.create("zhang.san", PASSWORD, Role.APPLICANT, division=HUANGPU)
    assert rules(applicant.value) == [("division", "no-division")]
    accounts.create("clerk.x", PASSWORD, Role.CLERK, ["market-regulation"], division=HUANGPU)
    with pytest.raises(InvalidInput) as moved:
        accounts.update("clerk.x", division="310199")
    assert rules(moved.value) == [("division", "known-division")]
    assert accounts.get("clerk.x").division == HUANGPU


def test_a_scoped_admin_neither_sees_nor_changes_accounts_outside_its_division(
    accounts: AccountService,
) -> None:
    accounts.create("clerk.hp", PASSWORD, Role.CLERK, ["tax"], division=HUANGPU)
    accounts.create("clerk.xh", PASSWORD, Role.CLERK, ["tax"], division=XUHUI)
    accounts.create("clerk.default", PASSWORD, Role.CLERK, ["tax"])
    accounts.create("zhang.san", PASSWORD, Role.APPLICANT)

    assert [a.username for a in accounts.list_accounts(scope=HUANGPU)] == ["clerk.hp"]
    assert {a.username for a in accounts.list_accounts(scope="310000")} == {
        "clerk.hp",
        "clerk.xh",
        "clerk.default",
    }
    for name in ("clerk.xh", "clerk.default", "zhang.san"):
        with pytest.raises(AccountNotFound):
            accounts.get(name, scope=HUANGPU)
        with pytest.raises(AccountNotFound):
            accounts.disable(name, scope=HUANGPU)
        with pytest.raises(AccountNotFound):
            accounts.set_password(name, "another-passphrase-2", scope=HUANGPU)
    assert accounts.get("clerk.xh").active

    # Its own clerk it changes, but never moves out of its district (or to the default division).
    assert accounts.update("clerk.hp", display_name="李四", scope=HUANGPU).display_name == "李四"
    with pytest.raises(NotAllowed):
        accounts.update("clerk.hp", division=XUHUI, scope=HUANGPU)
    with pytest.raises(NotAllowed):
        accounts.update("clerk.hp", division=None, scope=HUANGPU)
    assert accounts.get("clerk.hp").division == HUANGPU
    assert not accounts.disable("clerk.hp", scope=HUANGPU).active
    # The platform moves it, and clears it (the default division).
    assert accounts.update("clerk.hp", division=XUHUI).division == XUHUI
    assert accounts.update("clerk.hp", division=None).division is None


def test_demo_accounts_include_the_offices_systems_and_scoped_admins(
    accounts: AccountService, regions: Regions
) -> None:
    # Before the demo offices open, their clerks are not made (tasks still go to the default).
    before = set(accounts.ensure_demo_accounts(["market-regulation", "tax"]))
    assert {"clerk.market-regulation", "admin@310101", "system.tax@330000"} <= before
    assert not any(name.startswith(("clerk.", "supervisor.")) and "@" in name for name in before)

    assert regions.ensure_demo_offices() > 0
    created = before | set(accounts.ensure_demo_accounts(["market-regulation", "tax"]))
    assert {
        "clerk.market-regulation",
        "supervisor.market-regulation",
        "system.market-regulation",
        "admin",
        "analyst",
        "clerk.market-regulation@310101",
        "supervisor.market-regulation@310101",
        "clerk.tax@330105",
        "supervisor.tax@330000",
        "system.tax@330000",
        "admin@310101",
        "analyst@310101",
        "admin@330100",
        "analyst@330100",
    } <= created
    assert not any(name.endswith(("@310115", "@310105")) for name in created)  # the examples' codes

    clerk = accounts.authenticate("clerk.market-regulation@310101", DEMO_PASSWORD)
    assert clerk is not None
    assert (clerk.role, clerk.departments, clerk.supervisor) == (Role.CLERK, ("market-regulation",), False)
    assert clerk.actor().division == HUANGPU
    supervisor = accounts.get("supervisor.market-regulation@310101")
    assert supervisor.supervisor and supervisor.division == HUANGPU
    assert accounts.get("system.tax@330000").role is Role.SYSTEM
    assert accounts.get("admin@330100").actor().division == HANGZHOU
    # The old names stay where they were: the default division, the whole platform.
    assert accounts.get("clerk.market-regulation").division is None
    assert accounts.get("admin").division is None
    assert accounts.ensure_demo_accounts(["market-regulation", "tax"]) == []  # made once


def test_without_the_tree_no_division_is_known_and_a_scoped_admin_reaches_nothing(
    regions: Regions,
) -> None:
    bare = AccountService(regions.db, hasher=FAST_HASHER)
    with pytest.raises(InvalidInput) as unknown:
        bare.create("clerk.x", PASSWORD, Role.CLERK, ["tax"], division=HUANGPU)
    assert rules(unknown.value) == [("division", "known-division")]
    bare.create("clerk.y", PASSWORD, Role.CLERK, ["tax"])
    assert bare.list_accounts(scope=HUANGPU) == []
    assert "admin@310101" not in bare.ensure_demo_accounts(["tax"])
