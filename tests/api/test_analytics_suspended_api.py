"""The analytics REST figures count a suspended case: /api/analytics/reductions and /departments."""

from __future__ import annotations

from pathlib import Path

from engine.people.actors import Actor, Role
from tests.api.support import sqlite_server
from tests.support.engines import APPLICANT, upload

SUPERVISOR = Actor(
    "supervisor.market-regulation", Role.CLERK, frozenset({"market-regulation"}), supervisor=True
)


def test_a_suspended_case_shows_in_the_reductions_and_departments(tmp_path: Path) -> None:
    with sqlite_server(tmp_path) as server:
        engine = server.engine
        example = dict(engine.bundle_detail("enterprise-startup").examples[0])
        materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
        case_id = engine.start_case(APPLICANT, "enterprise-startup", example["data"], materials).id
        engine.suspend(SUPERVISOR, case_id, "等待法院裁判", "《市场主体登记管理条例》第二十条")
        with server.as_user("analyst") as c:
            rows = c.get("/api/analytics/reductions").json()
            (row,) = [r for r in rows if r["bundle"] == "enterprise-startup"]
            assert (row["suspended_now"], row["suspended_cases"]) == (1, 1)
            assert row["suspended_seconds"] >= 0 and "suspended_mean_seconds" in row
            departments = {d["department"]: d for d in c.get("/api/analytics/departments").json()}
            assert departments["market-regulation"]["suspended_now"] == 1
