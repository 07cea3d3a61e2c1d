"""Accounts with divisions over REST and from the CLI: 分级授权 for admins, the office demo accounts.

A district admin (``admin@310101``) creates accounts in its own district and is refused (403,
in Chinese and English) in another; accounts outside its district are not listed and answer
404; an unknown division is a 422 listing every problem. ``onething user add --division``
(run as a real subprocess) makes an office clerk whose actor carries the division.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.people.accounts import AccountService
from engine.regions import Regions
from engine.storage.db import Database
from engine.storage.settings import Settings
from tests.api.support import LiveServer, onething_command, regions_server

PASSWORD = "a-long-passphrase-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own with the demo offices open and their accounts made."""
    with regions_server(tmp_path_factory.mktemp("regions")) as running:
        yield running


def test_the_office_demo_clerk_signs_in_with_its_division(server: LiveServer) -> None:
    with server.as_user("clerk.market-regulation@310101") as clerk:
        me = clerk.get("/api/auth/me").json()
        assert (me["role"], me["departments"], me["division"]) == ("clerk", ["market-regulation"], "310101")
    with server.as_user("clerk.market-regulation") as alias:
        assert alias.get("/api/auth/me").json()["division"] is None  # the default division's clerk
    with server.as_user("admin@330100") as city_admin:
        assert city_admin.get("/api/auth/me").json()["division"] == "330100"


def test_a_district_admin_cannot_create_an_account_in_another_district(server: LiveServer) -> None:
    clerk = {"username": "clerk.xh.wang", "password": PASSWORD, "role": "clerk", "departments": ["tax"]}
    with server.as_user("admin@310101") as admin:
        refused = admin.post("/api/accounts", json={**clerk, "division": "310104"})
        assert refused.status_code == 403, refused.text
        detail = refused.json()["detail"]
        assert "310104" in detail and "只能管理本辖区" in detail and "you manage accounts" in detail
        # Nor at the default division, nor an analyst reaching the whole platform, nor an applicant.
        assert admin.post("/api/accounts", json=clerk).status_code == 403
        analyst = {"username": "analyst.all", "password": PASSWORD, "role": "analyst"}
        assert admin.post("/api/accounts", json=analyst).status_code == 403
        applicant = {"username": "zhang.san", "password": PASSWORD, "role": "applicant"}
        assert admin.post("/api/accounts", json=applicant).status_code == 403

        own = {**clerk, "username": "clerk.hp.wang", "division": "310101"}
        made = admin.post("/api/accounts", json=own, headers={"Idempotency-Key": "acct-1"})
        assert made.status_code == 201, made.text
        assert made.json()["division"] == "310101"
        again = admin.post("/api/accounts", json=own, headers={"Idempotency-Key": "acct-1"})
        assert (again.status_code, again.json()) == (201, made.json())

        # Every problem at once: an unknown division, a weak password, an unknown department.
        bad = admin.post(
            "/api/accounts",
            json={**clerk, "username": "clerk.bad", "password": "password", "departments": ["nowhere"],
                  "division": "310199"},
        )  # fmt: skip
        assert bad.status_code == 422, bad.text
        rules = {(p["where"], p["rule"]) for p in bad.json()["detail"]}
        assert {("division", "known-division"), ("departments", "known-department")} <= rules
        assert any(where == "password" for where, _ in rules)
        assert admin.post("/api/accounts", json={**own, "division": "31010"}).status_code == 422
    with server.client(server.token("clerk.hp.wang", PASSWORD)) as made_clerk:
        assert made_clerk.get("/api/auth/me").json()["division"] == "310101"
    with server.as_user("admin") as platform:
        assert platform.post("/api/accounts", json={**clerk, "division": "310104"}).status_code == 201


def test_a_district_admin_sees_and_changes_only_its_districts_accounts(server: LiveServer) -> None:
    with server.as_user("admin@310101") as admin:
        listed = {a["username"]: a["division"] for a in admin.get("/api/accounts").json()}
        assert "clerk.market-regulation@310101" in listed and "admin@310101" in listed
        assert set(listed.values()) == {"310101"}
        for other in ("clerk.market-regulation@310104", "clerk.market-regulation", "applicant1", "admin"):
            assert admin.get(f"/api/accounts/{other}").status_code == 404, other
            assert admin.patch(f"/api/accounts/{other}", json={"active": False}).status_code == 404, other

        mine = "supervisor.tax@310101"
        renamed = admin.patch(f"/api/accounts/{mine}", json={"display_name": "黄浦税务督办"})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["division"] == "310101"
        moved = admin.patch(f"/api/accounts/{mine}", json={"division": "310104"})
        assert moved.status_code == 403, moved.text
        cleared = admin.patch(f"/api/accounts/{mine}", json={"division": None})
        assert cleared.status_code == 403  # the default division is outside the district too
    with server.as_user("admin@330100") as city:
        names = {a["username"] for a in city.get("/api/accounts").json()}
        assert {"clerk.tax@330102", "clerk.tax@330105", "clerk.tax@330100"} <= names
        assert not any(n.endswith(("@310101", "@330000")) for n in names)
    with server.as_user("admin") as platform:
        moved = platform.patch("/api/accounts/clerk.tax@330105", json={"division": "330102"})
        assert (moved.status_code, moved.json()["division"]) == (200, "330102")
        unchanged = platform.patch("/api/accounts/clerk.tax@330105", json={"display_name": "x"})
        assert unchanged.json()["division"] == "330102"  # absent: kept


def test_user_add_with_a_division_from_the_cli(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"

    def onething(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*onething_command(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    added = onething(
        "user", "--db", db_url, "add", "clerk.pd.li", "--role", "clerk", "--department", "market-regulation",
        "--division", "310115", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "clerk.pd.li" in added.stdout and "310115" in added.stdout

    listed = onething("user", "--db", db_url, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["username"]: r["division"] for r in json.loads(listed.stdout)} == {"clerk.pd.li": "310115"}
    table = onething("user", "--db", db_url, "list")
    assert "310115" in table.stdout

    unknown = onething(
        "user", "--db", db_url, "add", "clerk.x", "--role", "clerk", "--department", "tax",
        "--division", "310199", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert unknown.returncode == 1 and "310199" in unknown.stderr

    tree = onething("divisions", "--db", db_url, "310000")
    assert tree.returncode == 0, tree.stderr
    assert "310115" in tree.stdout and "浦东新区" in tree.stdout and "330100" not in tree.stdout

    settings = Settings(database_url=db_url, data_dir=tmp_path / "var")
    db = Database(db_url)
    try:
        accounts = AccountService(db, regions=Regions(db, settings))
        clerk = accounts.authenticate("clerk.pd.li", PASSWORD)
        assert clerk is not None and clerk.actor().division == "310115"
    finally:
        db.dispose()
