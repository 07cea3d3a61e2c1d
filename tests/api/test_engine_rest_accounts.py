"""System accounts: bound to exactly one department, made as demo accounts, signed in like anyone."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidInput
from engine.people.accounts import DEMO_PASSWORD, AccountService
from engine.people.actors import Role
from engine.storage.db import Database
from tests.api.support import LiveServer

PASSWORD = "a-long-passphrase"


@pytest.fixture
def accounts(tmp_path: Path) -> AccountService:
    """Accounts on a fresh SQLite file that knows two departments."""
    db = Database(f"sqlite:///{tmp_path / 'onething.db'}")
    db.upgrade()
    return AccountService(db, departments=["tax", "market-regulation"])


def rules(error: InvalidInput) -> list[tuple[str, str]]:
    """Where and which rule each problem names."""
    return [(p.where, p.rule) for p in error.problems]


def test_a_system_account_has_exactly_one_known_department(accounts: AccountService) -> None:
    with pytest.raises(InvalidInput) as none:
        accounts.create("tax.system", PASSWORD, "system")
    assert rules(none.value) == [("departments", "exactly-one")]
    with pytest.raises(InvalidInput) as two:
        accounts.create("tax.system", PASSWORD, Role.SYSTEM, ["tax", "market-regulation"])
    assert rules(two.value) == [("departments", "exactly-one")]
    with pytest.raises(InvalidInput) as unknown:
        accounts.create("tax.system", PASSWORD, Role.SYSTEM, ["customs"])
    assert rules(unknown.value) == [("departments", "known-department")]
    with pytest.raises(InvalidInput) as supervisor:
        accounts.create("tax.system", PASSWORD, Role.SYSTEM, ["tax"], supervisor=True)
    assert rules(supervisor.value) == [("supervisor", "clerk-only")]

    view = accounts.create("tax.system", PASSWORD, Role.SYSTEM, ["tax"], "税务系统")
    assert (view.role, view.departments, view.supervisor) == (Role.SYSTEM, ("tax",), False)
    actor = view.actor()
    assert actor.system_of("tax") and not actor.system_of("market-regulation")
    assert not actor.in_department("tax")  # never a clerk of the queue


def test_changing_a_system_account_keeps_it_to_one_department(accounts: AccountService) -> None:
    accounts.create("tax.system", PASSWORD, Role.SYSTEM, ["tax"])
    with pytest.raises(InvalidInput) as refused:
        accounts.update("tax.system", departments=["tax", "market-regulation"])
    assert rules(refused.value) == [("departments", "exactly-one")]
    moved = accounts.update("tax.system", departments=["market-regulation"])
    assert moved.departments == ("market-regulation",)
    # An applicant (or analyst, admin) still belongs to no department.
    with pytest.raises(InvalidInput) as applicant:
        accounts.create("zhang.wei", PASSWORD, Role.APPLICANT, ["tax"])
    assert rules(applicant.value) == [("departments", "clerk-only")]
    # A clerk may become the department's system only with one department.
    accounts.create("li.clerk", PASSWORD, Role.CLERK, ["tax", "market-regulation"])
    with pytest.raises(InvalidInput):
        accounts.update("li.clerk", role=Role.SYSTEM)


def test_demo_accounts_include_each_departments_system(accounts: AccountService) -> None:
    created = accounts.ensure_demo_accounts(["tax", "market-regulation"])
    assert {"system.tax", "system.market-regulation"} <= set(created)
    system = accounts.authenticate("system.tax", DEMO_PASSWORD)
    assert system is not None
    assert (system.role, system.departments) == (Role.SYSTEM, ("tax",))
    assert accounts.ensure_demo_accounts(["tax"]) == []  # made once


def test_a_system_account_is_made_by_an_admin_and_signs_in_like_any(server: LiveServer) -> None:
    with server.as_user("admin") as admin:
        two = admin.post(
            "/api/accounts",
            json={
                "username": "customs.system",
                "password": PASSWORD,
                "role": "system",
                "departments": ["tax", "market-regulation"],
            },
        )
        assert two.status_code == 422, two.text
        assert [p["rule"] for p in two.json()["detail"]] == ["exactly-one"]
        made = admin.post(
            "/api/accounts",
            json={"username": "tax.core", "password": PASSWORD, "role": "system", "departments": ["tax"]},
        )
        assert made.status_code == 201, made.text
        assert (made.json()["role"], made.json()["departments"]) == ("system", ["tax"])
    token = server.token("tax.core", PASSWORD)
    with server.client(token) as system:
        me = system.get("/api/auth/me").json()
        assert (me["username"], me["role"], me["departments"]) == ("tax.core", "system", ["tax"])
        assert system.get("/engine-rest/external-task/count").status_code == 200
        assert system.get("/api/tasks").status_code == 403
    # The demo system accounts sign in with the demo password.
    with server.as_user("system.tax") as demo:
        assert demo.get("/api/auth/me").json()["role"] == "system"
