"""Over real HTTP: applying with a division, and a window receiving an application for an applicant.

The server has the demo offices (every department at 310101 黄浦区, 310104 徐汇区, 330000,
330100, 330102, 330105) and their demo accounts ``clerk.<department>@<division>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.support import LiveServer, pdf, regions_server, upload
from tests.api.walking import approve, bundle_example, open_tasks_of

BUNDLE = "enterprise-startup"
MARKET = "market-regulation"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on a fresh SQLite file with the demo offices and their accounts."""
    with regions_server(tmp_path_factory.mktemp("regions-cases")) as running:
        yield running


def materials_of(client: Any, example: dict[str, Any], label: str) -> dict[str, str]:
    """The example's materials uploaded by the client (bytes unique to ``label``)."""
    return {kind: upload(client, kind, pdf(f"{label}:{kind}"))["id"] for kind in example["materials"]}


def test_an_applicant_applies_for_a_division_and_its_office_gets_the_task(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, BUNDLE, 0)
        body = {
            "bundle": BUNDLE,
            "data": {**example["data"], "address_division": "310115"},
            "materials": materials_of(applicant, example, "division-asked"),
            "division": "310101",
        }
        answer = applicant.post("/api/cases", json=body)
        assert answer.status_code == 201, answer.text
        case = answer.json()
        assert case["division"] == "310101"
        assert case["division_name"] == {"zh": "上海市黄浦区", "en": case["division_name"]["en"]}
        assert case["received"] is None
        assert case["data"]["address_division"] == "310115"  # what the applicant wrote stays
        again = applicant.get(f"/api/cases/{case['id']}").json()
        assert (again["division"], again["received"]) == ("310101", None)
        listed = {c["id"]: c["division"] for c in applicant.get("/api/cases").json()["items"]}
        assert listed[case["id"]] == "310101"

    with (
        server.as_user(f"clerk.{MARKET}@310101") as huangpu,
        server.as_user(f"clerk.{MARKET}@310104") as xuhui,
    ):
        (task,) = open_tasks_of(huangpu, case["id"], BUNDLE)
        assert task["item"] == "business-registration"
        assert open_tasks_of(xuhui, case["id"], BUNDLE) == []
        assert xuhui.get(f"/api/tasks/{task['id']}").status_code == 404
        assert xuhui.post(f"/api/tasks/{task['id']}/claim").status_code == 404


def test_a_division_is_checked_with_the_rest_of_the_application(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, BUNDLE, 0)
        data = {k: v for k, v in example["data"].items() if k != "company_name"}
        body = {"bundle": BUNDLE, "data": data, "materials": materials_of(applicant, example, "bad-division")}
        unknown = applicant.post("/api/cases", json={**body, "division": "310199"})
        assert unknown.status_code == 422, unknown.text
        where = {p["where"] for p in unknown.json()["detail"]}
        assert {"division", "company_name"} <= where
        malformed = applicant.post("/api/cases", json={**body, "division": "31"})
        assert malformed.status_code == 422
        for_another = applicant.post("/api/cases", json={**body, "applicant": "applicant2"})
        assert for_another.status_code == 403, for_another.text


def test_a_window_receives_an_application_that_another_district_decides(server: LiveServer) -> None:
    """异地代收 over HTTP: 徐汇区's window receives for applicant1, 黄浦区 decides."""
    window_name = f"clerk.{MARKET}@310104"
    with server.as_user(window_name) as window, server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, BUNDLE, 0)
        scanned = materials_of(window, example, "window")
        body = {
            "bundle": BUNDLE,
            "data": example["data"],
            "materials": scanned,
            "division": "310101",
            "applicant": "applicant1",
        }
        answer = window.post("/api/cases", json=body)
        assert answer.status_code == 201, answer.text
        case = answer.json()
        assert case["applicant"] == "applicant1"
        assert case["division"] == "310101"
        assert case["data"] is None  # the window follows progress, not the answers
        received = case["received"]
        assert (received["division"], received["department"]) == ("310104", MARKET)
        assert "徐汇区" in received["office"]["zh"]

        # The applicant owns the case and what the window scanned.
        mine = applicant.get(f"/api/cases/{case['id']}").json()
        assert mine["received"] == received
        assert set(mine["materials"]) == set(scanned)
        for kind, material in mine["materials"].items():
            assert material != scanned[kind]
            assert applicant.get(f"/api/materials/{material}").status_code == 200
            assert window.get(f"/api/materials/{scanned[kind]}").status_code == 403
        assert any(line["kind"] == "received_at_window" for line in mine["timeline"])
        listed = [c["id"] for c in window.get("/api/cases").json()["items"]]
        assert case["id"] in listed

        assert open_tasks_of(window, case["id"], BUNDLE) == []
        with server.as_user(f"clerk.{MARKET}@310101") as deciding:
            (task,) = open_tasks_of(deciding, case["id"], BUNDLE)
            assert window.get(f"/api/tasks/{task['id']}").status_code == 404
            assert window.post(f"/api/tasks/{task['id']}/claim").status_code == 404
            done = approve(deciding, task, example["decisions"])
            assert done["state"] == "completed"
        progress = window.get(f"/api/cases/{case['id']}").json()
        assert progress["progress"]["done"] == 1


def test_a_window_must_name_a_known_applicant(server: LiveServer) -> None:
    with server.as_user(f"clerk.{MARKET}@310104") as window:
        example = bundle_example(window, BUNDLE, 0)
        body = {
            "bundle": BUNDLE,
            "data": example["data"],
            "materials": materials_of(window, example, "nobody"),
        }
        nobody = window.post("/api/cases", json={**body, "applicant": "nobody"})
        assert nobody.status_code == 422, nobody.text
        assert [p["where"] for p in nobody.json()["detail"]] == ["applicant"]
        missing = window.post("/api/cases", json=body)
        assert missing.status_code == 422
        wrong_desk = window.post(
            "/api/cases", json={**body, "applicant": "applicant1", "received_department": "tax"}
        )
        assert [p["where"] for p in wrong_desk.json()["detail"]] == ["received_department"]
    with server.as_user("analyst") as analyst:
        assert analyst.post("/api/cases", json={**body, "applicant": "applicant1"}).status_code == 403


def test_the_application_fields_are_documented(server: LiveServer) -> None:
    with server.client() as anonymous:
        schemas = anonymous.get("/openapi.json").json()["components"]["schemas"]
    create = schemas["CaseCreate"]["properties"]
    assert {"division", "applicant", "received_department"} <= set(create)
    assert create["division"]["anyOf"][0]["pattern"]
    public = schemas["CasePublic"]["properties"]
    assert {"division", "division_name", "received"} <= set(public)
    assert set(schemas["ReceivedPublic"]["properties"]) == {"division", "department", "office"}
