"""/api/analytics by division over real HTTP: filters, groupings, the office ranking, scoped analysts.

The database is filled first by the engine test's simulation (a regional two-desk bundle
worked from districts of 上海市, 杭州市 and 宁波市 with a moved clock), then served. Each
answer is compared with the query it stands for, and the office ranking with offices
counted from the task rows. Analysts and admins with a division (``analyst@330100``,
``admin@310101``) read their subtree only: asking outside it answers an empty list (200),
as the scoped queues do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from api.schemas.analytics import BottleneckPublic, DepartmentStatsPublic, ReductionRowPublic
from engine.analytics import queries
from engine.storage.models import Case, WorkItem
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.api.support import LiveServer, live_server
from tests.engine.test_analytics_regions import KEY, PARENT, regional_engine, simulate
from tests.support.engines import MONDAY

HANGZHOU = {code for code in PARENT if code.startswith("3301")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on a database that already holds a simulated regional population."""
    root = tmp_path_factory.mktemp("analytics-regions")
    url = f"sqlite:///{root / 'onething.db'}"
    clock = ManualClock(MONDAY)
    filled = regional_engine(url, root, clock)
    simulate(filled, clock, 40, seed=21)
    filled.close()
    with live_server(Settings(database_url=url, data_dir=root / "var")) as running:
        yield running


def offices_in(server: LiveServer, divisions: set[str]) -> set[tuple[str, str]]:
    """The offices (department, division) that completed a task in these divisions, from the rows."""
    with server.engine.db.read() as s:
        rows = s.execute(
            select(WorkItem.department, WorkItem.division).where(
                WorkItem.state == "completed", WorkItem.bundle_key == KEY
            )
        ).all()
    return {(d, v) for d, v in rows if v in divisions}


def as_json(rows: list[Any], schema: Any) -> list[dict[str, Any]]:
    """What the route answers for these engine rows (its response model, dumped as JSON)."""
    return [schema.from_row(r).model_dump(mode="json") for r in rows]


def test_the_analyst_filters_and_groups_by_division_and_level(server: LiveServer) -> None:
    engine, tree = server.engine, server.engine.regions.tree()
    with server.as_user("analyst") as analyst:
        grouped = analyst.get("/api/analytics/bottlenecks", params={"bundle": KEY, "by": "division"})
        assert grouped.status_code == 200, grouped.text
        assert grouped.json() == as_json(
            queries.bottlenecks(engine.db, KEY, tree=tree, group_by_division=True), BottleneckPublic
        )
        assert {r["division"] for r in grouped.json()} >= {"310101", "330102", "330100", "330200"}

        cities = analyst.get("/api/analytics/departments", params={"division": "330000", "level": "city"})
        assert cities.status_code == 200, cities.text
        assert {(r["department"], r["division"]) for r in cities.json()} == {
            (d, v) for d in ("market-regulation", "tax") for v in ("330100", "330200")
        }
        assert cities.json() == as_json(
            queries.by_department(engine.db, tree=tree, division="330000", level="city"),
            DepartmentStatsPublic,
        )
        hangzhou = next(r for r in cities.json() if r["division"] == "330100")
        assert hangzhou["division_name"]["zh"] == "浙江省杭州市"

        reductions = analyst.get("/api/analytics/reductions", params={"level": "city"})
        assert reductions.status_code == 200, reductions.text
        assert reductions.json() == as_json(
            queries.reductions(engine.db, engine.deployments, tree=tree, level="city"), ReductionRowPublic
        )
        mine = [r for r in reductions.json() if r["bundle"] == KEY]
        assert {r["division"] for r in mine} == {"310000", "330100", "330200"}
        assert sum(r["cases"] for r in mine) == 40

        # Ungrouped answers keep their shape: one row per task, division null.
        plain = analyst.get("/api/analytics/bottlenecks", params={"bundle": KEY}).json()
        assert sorted(r["item"] for r in plain) == ["review", "tax-check"]
        assert {r["division"] for r in plain} == {None}

        assert analyst.get("/api/analytics/bottlenecks", params={"level": "street"}).status_code == 422
        assert analyst.get("/api/analytics/offices", params={"division": "33010"}).status_code == 422
        assert analyst.get("/api/analytics/reductions", params={"by": "office"}).status_code == 422


def test_offices_are_ranked_by_on_time_rate_then_rating(server: LiveServer) -> None:
    with server.as_user("analyst") as analyst:
        answer = analyst.get("/api/analytics/offices", params={"bundle": KEY})
        assert answer.status_code == 200, answer.text
        ranking = answer.json()
    assert {(o["department"], o["division"]) for o in ranking} == offices_in(server, set(PARENT))
    assert [o["rank"] for o in ranking] == list(range(1, len(ranking) + 1))
    keys = [(-o["on_time_rate"], -(o["ratings"]["mean"] or -1.0)) for o in ranking]
    assert keys == sorted(keys)
    for o in ranking:
        assert o["on_time_rate"] == pytest.approx(o["on_time"] / o["finished"])
        assert o["on_time"] + o["overdue"] == o["finished"]
        assert o["name"]["zh"] == server.engine.regions.office_name(o["department"], o["division"])
    huangpu = next(o for o in ranking if o["division"] == "310101")
    assert huangpu["name"]["zh"].startswith("上海市黄浦区")
    # Rolled up to the city: Hangzhou's market-regulation offices are one.
    with server.as_user("analyst") as analyst:
        by_city = analyst.get("/api/analytics/offices", params={"bundle": KEY, "level": "city"}).json()
    hangzhou = [o for o in ranking if o["division"] in HANGZHOU and o["department"] == "market-regulation"]
    (together,) = [o for o in by_city if o["division"] == "330100" and o["department"] == "market-regulation"]
    assert together["finished"] == sum(o["finished"] for o in hangzhou)
    assert together["on_time"] == sum(o["on_time"] for o in hangzhou)


def test_a_scoped_analyst_reads_its_subtree_only(server: LiveServer) -> None:
    with server.as_user("analyst@330100") as analyst:
        offices = analyst.get("/api/analytics/offices", params={"bundle": KEY})
        assert offices.status_code == 200, offices.text
        assert {(o["department"], o["division"]) for o in offices.json()} == offices_in(server, HANGZHOU)
        # Asking for the province narrows to what it may see; asking outside answers nothing.
        wider = analyst.get("/api/analytics/offices", params={"bundle": KEY, "division": "330000"})
        assert wider.json() == offices.json()
        assert analyst.get("/api/analytics/offices", params={"division": "310000"}).json() == []
        assert analyst.get("/api/analytics/bottlenecks", params={"division": "330200"}).json() == []
        grouped = analyst.get("/api/analytics/bottlenecks", params={"bundle": KEY, "by": "division"}).json()
        assert grouped and {r["division"] for r in grouped} <= HANGZHOU
        departments = analyst.get("/api/analytics/departments", params={"level": "city"}).json()
        assert {r["division"] for r in departments} == {"330100"}
        reductions = analyst.get("/api/analytics/reductions").json()
        mine = next(r for r in reductions if r["bundle"] == KEY)
        with server.engine.db.read() as s:
            decided = s.scalars(
                select(Case.division).where(Case.bundle_key == KEY, Case.status == "completed")
            )
            assert mine["cases"] == sum(d in HANGZHOU for d in decided) > 0
    with server.as_user("admin@310101") as admin:
        offices = admin.get("/api/analytics/offices", params={"bundle": KEY}).json()
        assert {(o["department"], o["division"]) for o in offices} == offices_in(server, {"310101"})
        assert admin.get("/api/analytics/offices", params={"division": "330100"}).json() == []


def test_clerks_and_applicants_may_not_read_analytics(server: LiveServer) -> None:
    for username in ("applicant1", "clerk.market-regulation"):
        with server.as_user(username) as user:
            for path in ("bottlenecks", "departments", "reductions", "offices"):
                assert user.get(f"/api/analytics/{path}").status_code == 403, (username, path)
    with server.client() as anonymous:
        assert anonymous.get("/api/analytics/offices").status_code == 401


def test_the_openapi_document_describes_the_division_parameters(server: LiveServer) -> None:
    with server.client() as client:
        document = client.get("/openapi.json").json()
    for path in ("bottlenecks", "departments", "reductions", "offices"):
        operation = document["paths"][f"/api/analytics/{path}"]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"division", "level"} <= names, path
        assert "403" in operation["responses"] and "422" in operation["responses"]
    offices = document["paths"]["/api/analytics/offices"]["get"]["responses"]["200"]
    assert offices["content"]["application/json"]["schema"]["items"]["$ref"].endswith("/OfficeRankPublic")
    schema = document["components"]["schemas"]["OfficeRankPublic"]
    assert {"rank", "on_time_rate", "ratings", "name", "division"} <= set(schema["properties"])
