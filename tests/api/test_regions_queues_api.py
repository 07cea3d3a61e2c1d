"""Queues per office over HTTP: GET /api/tasks and GET /api/cases with ``division=``, 404 across districts.

A real server on a loopback port with the shipped bundles and divisions; the module opens the
demo offices (黄浦区 310101 and 徐汇区 310104 among them) and makes their accounts. The
school-enrollment example is applied for twice, once living in each district
(``residence_division``): its public-security check lands at that district's office.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.support import LiveServer, open_demo_offices, sqlite_server
from tests.api.walking import apply, bundle_example

BUNDLE = "school-enrollment"
POLICE = "public-security"
HUANGPU, XUHUI = "310101", "310104"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with sqlite_server(tmp_path_factory.mktemp("regions-queues")) as running:
        yield running


@pytest.fixture(scope="module")
def offices(server: LiveServer) -> None:
    """The demo offices open and their accounts made, as ``onething serve --demo`` does."""
    open_demo_offices(server.engine)


@pytest.fixture(scope="module")
def cases(server: LiveServer, offices: None) -> dict[str, int]:
    """One school-enrollment case per district: division -> case id."""
    found: dict[str, int] = {}
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, BUNDLE, 0)
        for division in (HUANGPU, XUHUI):
            living = {**example, "data": {**example["data"], "residence_division": division}}
            r = apply(applicant, BUNDLE, living, f"regions-queues-{division}")
            assert r.status_code == 201, r.text
            found[division] = r.json()["id"]
    return found


def police_task(server: LiveServer, case_id: int) -> dict[str, Any]:
    """The case's public-security task as the analyst (whole platform) reads it in the case."""
    with server.as_user("analyst") as analyst:
        r = analyst.get(f"/api/cases/{case_id}")
        assert r.status_code == 200, r.text
        (task,) = [t for t in r.json()["tasks"] if t["department"] == POLICE]
    return dict(task)


def queue(server: LiveServer, username: str, **params: Any) -> list[dict[str, Any]]:
    with server.as_user(username) as client:
        r = client.get("/api/tasks", params={"bundle": BUNDLE, **params})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_each_districts_clerks_get_their_own_queue_with_the_office_named(
    server: LiveServer, cases: dict[str, int]
) -> None:
    (huangpu,) = queue(server, f"clerk.{POLICE}@{HUANGPU}")
    assert (huangpu["case_id"], huangpu["division"]) == (cases[HUANGPU], HUANGPU)
    assert huangpu["office"] == {
        "zh": server.engine.regions.office_name(POLICE, HUANGPU, "zh"),
        "en": server.engine.regions.office_name(POLICE, HUANGPU, "en"),
    }
    assert huangpu["office"]["zh"].startswith("上海市黄浦区")
    (xuhui,) = queue(server, f"clerk.{POLICE}@{XUHUI}")
    assert (xuhui["case_id"], xuhui["division"]) == (cases[XUHUI], XUHUI)
    # The old clerk.<department> is the default division's office (上海市): neither district's.
    assert queue(server, f"clerk.{POLICE}") == []
    with server.as_user(f"clerk.{POLICE}@{HUANGPU}") as clerk:
        detail = clerk.get(f"/api/tasks/{huangpu['id']}")
        assert detail.status_code == 200, detail.text
        assert (detail.json()["division"], detail.json()["office"]) == (HUANGPU, huangpu["office"])


def test_a_clerk_of_one_district_gets_404_for_the_other_districts_task(
    server: LiveServer, cases: dict[str, int]
) -> None:
    task_id = police_task(server, cases[XUHUI])["id"]
    with server.as_user(f"clerk.{POLICE}@{HUANGPU}") as outsider:
        assert outsider.get(f"/api/tasks/{task_id}").status_code == 404
        assert outsider.post(f"/api/tasks/{task_id}/claim").status_code == 404
        done = outsider.post(f"/api/tasks/{task_id}/complete", json={"outcome": "approve", "data": {}})
        assert done.status_code == 404
        assert outsider.get(f"/api/cases/{cases[XUHUI]}").status_code == 404
        listed = outsider.get("/api/cases").json()["items"]
        assert cases[XUHUI] not in {c["id"] for c in listed} and cases[HUANGPU] in {c["id"] for c in listed}


def test_a_supervisor_reads_the_offices_below_filters_by_division_and_cannot_claim_there(
    server: LiveServer, cases: dict[str, int]
) -> None:
    supervisor = f"supervisor.{POLICE}"  # the default division, 上海市: both districts are below
    assert {t["case_id"] for t in queue(server, supervisor)} == {cases[HUANGPU], cases[XUHUI]}
    assert {t["case_id"] for t in queue(server, supervisor, division=HUANGPU)} == {cases[HUANGPU]}
    assert queue(server, supervisor, division="330100") == []  # outside: an empty queue, not an error
    assert {t["case_id"] for t in queue(server, f"supervisor.{POLICE}@{XUHUI}")} == {cases[XUHUI]}
    task_id = police_task(server, cases[HUANGPU])["id"]
    with server.as_user(supervisor) as client:
        assert client.get(f"/api/tasks/{task_id}").status_code == 200
        assert client.post(f"/api/tasks/{task_id}/claim").status_code == 403
        assert client.get("/api/tasks", params={"division": "31010"}).status_code == 422


def test_scoped_analysts_and_the_cases_division_filter(server: LiveServer, cases: dict[str, int]) -> None:
    with server.as_user("analyst@330100") as hangzhou:
        assert hangzhou.get(f"/api/cases/{cases[HUANGPU]}").status_code == 404
        assert hangzhou.get(f"/api/tasks/{police_task(server, cases[HUANGPU])['id']}").status_code == 404
        listed = {c["id"] for c in hangzhou.get("/api/cases").json()["items"]}
        assert not listed & set(cases.values())
    with server.as_user("analyst@310101") as huangpu:
        listed = {c["id"] for c in huangpu.get("/api/cases").json()["items"]}
        assert cases[HUANGPU] in listed and cases[XUHUI] not in listed
    with server.as_user("analyst") as analyst:
        r = analyst.get("/api/cases", params={"division": XUHUI})
        assert r.status_code == 200, r.text
        assert cases[XUHUI] in {c["id"] for c in r.json()["items"]}
        assert cases[HUANGPU] not in {c["id"] for c in r.json()["items"]}
        assert analyst.get("/api/cases", params={"division": "x"}).status_code == 422
    with server.as_user("applicant1") as applicant:
        mine = {c["id"] for c in applicant.get("/api/cases", params={"division": "310000"}).json()["items"]}
        assert {cases[HUANGPU], cases[XUHUI]} <= mine
        mine = {c["id"] for c in applicant.get("/api/cases", params={"division": HUANGPU}).json()["items"]}
        assert cases[HUANGPU] in mine and cases[XUHUI] not in mine
