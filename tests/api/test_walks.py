"""Whole cases over a real HTTP server, as the demo accounts of every department would work them.

The enterprise-startup case goes from materials upload to its certificates with one clerk per
department, each working only what ``GET /api/tasks`` shows it; the school-enrollment case goes
through a return-and-supplement round (一次性告知). Every answer carries ``X-Request-ID``.
"""

from __future__ import annotations

import collections
import json
from typing import Any

import httpx

from tests.api.support import LiveServer, pdf, upload
from tests.api.walking import apply, approve, bundle_example, office_account, open_tasks_of, work_case


def kinds(case: dict[str, Any]) -> list[str]:
    """The kinds of the case's timeline, in order."""
    return [e["kind"] for e in case["timeline"]]


def bundle_departments(client: httpx.Client, bundle: str) -> dict[str, str]:
    """Item key -> department of a bundle."""
    r = client.get(f"/api/bundles/{bundle}")
    assert r.status_code == 200, r.text
    return {item["key"]: item["department"] for item in r.json()["items"]}


def test_enterprise_startup_goes_from_upload_to_certificates_with_every_department(
    server: LiveServer,
) -> None:
    applicant = server.as_user("applicant1")
    example = bundle_example(applicant, "enterprise-startup", 0)
    owners = bundle_departments(applicant, "enterprise-startup")
    assert set(example["route"]) == set(owners)  # this example passes every item of the bundle

    started = apply(applicant, "enterprise-startup", example, "walk-enterprise")
    assert started.status_code == 201, started.text
    assert started.headers["X-Request-ID"]
    case = started.json()
    assert case["status"] == "running"
    assert case["applicant"] == "applicant1"
    assert case["progress"] == {"done": 0, "total": len(owners)}

    # The first step is registration: only market regulation has work; tax sees nothing yet.
    with server.as_user("clerk.tax") as tax:
        assert open_tasks_of(tax, case["id"], "enterprise-startup") == []
    with server.as_user("clerk.market-regulation") as market:
        (task,) = open_tasks_of(market, case["id"], "enterprise-startup")
        assert task["item"] == "business-registration"
        detail = market.get(f"/api/tasks/{task['id']}").json()
        # The department's view: registration fields and materials, never another item's fields.
        assert set(detail["data"]) <= set(example["data"])
        assert "seal_set" not in detail["data"] and "bank_name" not in detail["data"]
        assert detail["data"]["company_name"] == example["data"]["company_name"]
        assert set(detail["materials"]) == {"articles_of_association", "premises_proof"}
        assert detail["decision_fields"] == ["uscc"]
        assert detail["asked_decision_fields"] == ["uscc"]
        assert detail["example"] == example["decisions"]["business-registration"]
        document = market.get(f"/api/tasks/{task['id']}/materials/premises_proof")
        assert document.status_code == 200 and document.content.startswith(b"%PDF")

    done = work_case(
        server, case["id"], "enterprise-startup", sorted(set(owners.values())), example["decisions"]
    )
    assert sorted(done) == sorted(owners)

    final = applicant.get(f"/api/cases/{case['id']}").json()
    assert final["status"] == "completed"
    assert final["progress"] == {"done": len(owners), "total": len(owners)}
    assert final["finished_at"] is not None
    assert {t["state"] for t in final["tasks"]} == {"completed"}
    # The licence was issued to the applicant as an electronic certificate they can fetch.
    licence_id = final["outputs"]["business_licence"]
    licence = applicant.get(f"/api/materials/{licence_id}")
    assert licence.status_code == 200 and licence.json()["kind"] == "business_licence"
    certificate = applicant.get(f"/api/materials/{licence_id}/content").json()
    assert certificate["type"] == "electronic-certificate" and certificate["number"]
    assert certificate["fields"]["company_name"] == example["data"]["company_name"]
    # Later desks worked from the shared electronic licence, not from a copy the applicant sent.
    with server.as_user("clerk.bank") as bank:
        (banked,) = [t for t in final["tasks"] if t["item"] == "bank-account-opening"]
        assert bank.get(f"/api/tasks/{banked['id']}").json()["materials"]["business_licence"] == licence_id

    timeline = final["timeline"]
    assert kinds(final)[0] == "submitted" and kinds(final)[-1] == "completed"
    approvals = [e for e in timeline if e["kind"] == "approved"]
    assert sorted(e["detail"]["item"] for e in approvals) == sorted(owners)
    # The tax registration is the tax system's external task (system.tax); clerks claim the rest.
    by_system = {"tax-registration"}
    for event in approvals:
        item = event["detail"]["item"]
        assert event["actor"] == f"{'system' if item in by_system else 'clerk'}.{owners[item]}"
    assert collections.Counter(kinds(final))["claimed"] == len(owners) - len(by_system)
    issued = [e for e in timeline if e["kind"] == "certificate_issued"]
    assert [e["detail"]["kind"] for e in issued] == ["business_licence"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)

    # A clerk involved in the case follows its progress but never sees the application itself.
    with server.as_user("clerk.medical-insurance") as medical:
        seen = medical.get(f"/api/cases/{case['id']}")
        assert seen.status_code == 200
        assert seen.json()["data"] is None and seen.json()["materials"] is None
        assert example["data"]["legal_rep_id"] not in seen.text
    applicant.close()


def test_school_enrollment_return_and_supplement_runs_only_the_returned_tasks_again(
    server: LiveServer,
) -> None:
    applicant = server.as_user("applicant1")
    example = bundle_example(applicant, "school-enrollment", 1)  # non-local child, rented home
    owners = bundle_departments(applicant, "school-enrollment")
    started = apply(applicant, "school-enrollment", example, "walk-school")
    assert started.status_code == 201, started.text
    case_id = started.json()["id"]
    division = started.json()["division"]  # 杭州市西湖区: its tasks wait at the offices it routes to

    def clerk_of(department: str) -> str:
        routed = server.engine.regions.route(department, division)
        return office_account(server, "clerk", department, routed)

    returns = {
        "household-check": {"field": "household_location", "message": "户籍所在地与居住证信息不一致"},
        "lease-check": {"material": "lease_registration", "message": "租赁备案证明已过期"},
    }
    first_round: dict[str, int] = {}
    for item, department in owners.items():
        with server.as_user(clerk_of(department)) as clerk:
            for task in open_tasks_of(clerk, case_id, "school-enrollment"):
                if task["item"] != item:
                    continue
                first_round[item] = task["id"]
                if item in returns:
                    assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
                    r = clerk.post(
                        f"/api/tasks/{task['id']}/complete",
                        json={"outcome": "return", "comment": "请补正", "problems": [returns[item]]},
                    )
                    assert r.status_code == 200, r.text
                    assert r.json()["outcome"] == "return"
                else:
                    approve(clerk, task, example["decisions"])
    assert set(first_round) == {"household-check", "lease-check", "social-insurance-check"}

    waiting = applicant.get(f"/api/cases/{case_id}").json()
    assert waiting["status"] == "awaiting_applicant"
    notice = waiting["notice"]
    assert {i["item"] for i in notice["items"]} == set(returns)  # two departments, one notice
    assert sorted(p["message"] for p in notice["problems"]) == sorted(p["message"] for p in returns.values())
    assert kinds(waiting).count("notice_issued") == 1
    # Nothing runs while the applicant is asked: no queue shows the case.
    for department in set(owners.values()):
        with server.as_user(clerk_of(department)) as clerk:
            assert open_tasks_of(clerk, case_id, "school-enrollment") == []

    new_lease = upload(applicant, "lease_registration", pdf("walk-school:lease-renewed"))["id"]
    supplemented = applicant.post(
        f"/api/cases/{case_id}/supplement",
        json={"data": {"household_location": "non_local"}, "materials": {"lease_registration": new_lease}},
    )
    assert supplemented.status_code == 200, supplemented.text
    assert supplemented.json()["status"] == "running"
    assert supplemented.json()["notice"] is None
    again = applicant.post(f"/api/cases/{case_id}/supplement", json={"data": {}, "materials": {}})
    assert again.status_code == 409, again.text  # nothing is asked any more

    second_round = [t for t in supplemented.json()["tasks"] if t["state"] in ("ready", "claimed")]
    assert sorted(t["item"] for t in second_round) == sorted(returns)
    assert all(t["round"] == 2 for t in second_round)
    with server.as_user(clerk_of("housing-construction")) as housing:
        (lease_task,) = open_tasks_of(housing, case_id, "school-enrollment")
        assert lease_task["id"] != first_round["lease-check"]
        assert (
            housing.get(f"/api/tasks/{lease_task['id']}").json()["materials"]["lease_registration"]
            == new_lease
        )

    done = work_case(server, case_id, "school-enrollment", sorted(set(owners.values())), example["decisions"])
    assert sorted(done) == sorted([*returns, "school-assignment"])

    final = applicant.get(f"/api/cases/{case_id}").json()
    assert final["status"] == "completed"
    per_item = collections.Counter(t["item"] for t in final["tasks"])
    assert per_item == {
        "household-check": 2,
        "lease-check": 2,
        "social-insurance-check": 1,
        "school-assignment": 1,
    }
    counted = collections.Counter(kinds(final))
    assert counted["returned"] == 2 and counted["notice_issued"] == 1 and counted["supplemented"] == 1
    assert counted["approved"] == 4  # social insurance once, the two returned ones, the school place
    applicant.close()


def test_newborn_birth_waits_for_the_hospital_systems_message_then_the_clerks_finish(
    server: LiveServer,
) -> None:
    applicant = server.as_user("applicant1")
    example = bundle_example(applicant, "newborn-birth", 0)
    owners = bundle_departments(applicant, "newborn-birth")
    started = apply(applicant, "newborn-birth", example, "walk-newborn")
    assert started.status_code == 201, started.text
    case = started.json()
    # The hospital's system issues the certificate: no clerk of the health department has it.
    (waiting,) = case["tasks"]
    assert (waiting["item"], waiting["department"], waiting["state"]) == (
        "birth-certificate",
        "health",
        "ready",
    )
    with server.as_user("clerk.health") as health:
        assert open_tasks_of(health, case["id"], "newborn-birth") == []
        assert health.post(f"/api/tasks/{waiting['id']}/claim").status_code in (403, 404, 409)

    done = work_case(server, case["id"], "newborn-birth", sorted(set(owners.values())), example["decisions"])
    assert sorted(done) == sorted(example["route"])
    final = applicant.get(f"/api/cases/{case['id']}").json()
    assert final["status"] == "completed"
    certificate = applicant.get(f"/api/materials/{final['outputs']['birth_certificate']}/content").json()
    assert certificate["type"] == "electronic-certificate" and certificate["number"]
    assert certificate["fields"]["child_name"] == example["data"]["child_name"]
    approvals = {e["detail"]["item"]: e["actor"] for e in final["timeline"] if e["kind"] == "approved"}
    assert approvals["birth-certificate"] == "system.health"
    assert approvals["vaccination-record"] == "clerk.health"
    applicant.close()


def test_every_answer_carries_a_request_id_and_echoes_a_well_formed_one(server: LiveServer) -> None:
    with server.client() as anonymous:
        for method, path in [("GET", "/healthz"), ("GET", "/api/cases"), ("GET", "/api/nowhere")]:
            r = anonymous.request(method, path)
            assert len(r.headers["X-Request-ID"]) >= 16, (method, path)
        echoed = anonymous.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
        assert echoed.headers["X-Request-ID"] == "trace-42.a"
        forged = anonymous.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        assert forged.headers["X-Request-ID"] != "bad id\twith spaces"
    with server.as_user("applicant1") as applicant:
        ids = {applicant.get("/api/cases/999999").headers["X-Request-ID"] for _ in range(3)}
        assert len(ids) == 3  # a fresh id for every request
        invalid = applicant.post(
            "/api/cases", json={"bundle": "school-enrollment", "data": {}, "materials": {}}
        )
        assert invalid.status_code == 422 and invalid.headers["X-Request-ID"]
        assert isinstance(invalid.json()["detail"], list) and len(invalid.json()["detail"]) > 1
        assert "Traceback" not in invalid.text


def test_a_finished_case_is_rated_once_by_its_owner(server: LiveServer) -> None:
    applicant = server.as_user("applicant1")
    example = bundle_example(applicant, "school-enrollment", 0)
    started = apply(applicant, "school-enrollment", example, "walk-rating")
    case_id = started.json()["id"]
    early = applicant.post(f"/api/cases/{case_id}/rating", json={"score": 5, "comment": ""})
    assert early.status_code == 409, early.text
    departments = sorted(set(bundle_departments(applicant, "school-enrollment").values()))
    work_case(server, case_id, "school-enrollment", departments, example["decisions"])
    with server.as_user("applicant2") as stranger:
        assert stranger.post(f"/api/cases/{case_id}/rating", json={"score": 1}).status_code == 404
    rated = applicant.post(f"/api/cases/{case_id}/rating", json={"score": 2, "comment": "等了很久"})
    assert rated.status_code == 201, rated.text
    body = rated.json()
    assert body["score"] == 2 and body["rectification"] is not None  # a bad rating opens a rectification
    assert applicant.post(f"/api/cases/{case_id}/rating", json={"score": 5}).status_code == 409
    assert json.dumps(body, ensure_ascii=False).count("等了很久") == 1
    timeline = applicant.get(f"/api/cases/{case_id}").json()["timeline"]
    assert [e["kind"] for e in timeline][-2:] == ["rated", "rectification_opened"]
    applicant.close()
