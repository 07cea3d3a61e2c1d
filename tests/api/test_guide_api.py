"""情形引导 over REST: the questions, and what the answers mean (query or JSON)."""

from __future__ import annotations

from tests.api.support import LiveServer


def test_the_questions_and_the_open_result(server: LiveServer) -> None:
    with server.client() as anonymous:
        assert anonymous.get("/api/bundles/enterprise-startup/guide").status_code == 401
    with server.as_user("applicant1") as c:
        r = c.get("/api/bundles/enterprise-startup/guide")
        assert r.status_code == 200, r.text
        guide = r.json()
    assert [q["field"] for q in guide["questions"]] == ["has_employees", "invoice_needed"]
    assert guide["questions"][0]["question"] == {"zh": "是否招用员工？", "en": "Hiring employees?"}
    assert [c["value"] for c in guide["questions"][0]["choices"]] == [True, False]
    assert not guide["complete"] and guide["answers"] == {}
    depends = {i["key"] for i in guide["items"] if not i["always"]}
    assert "invoice-issue" in depends and "social-insurance-registration" in depends
    assert guide["apply_url"] == "/apply/enterprise-startup"


def test_answers_as_query_parameters_or_json_give_one_route(server: LiveServer) -> None:
    with server.as_user("clerk.market-regulation") as c:
        by_query = c.get(
            "/api/bundles/enterprise-startup/guide?has_employees=false&invoice_needed=true"
        ).json()
        by_json = c.post(
            "/api/bundles/enterprise-startup/guide",
            json={"answers": {"has_employees": False, "invoice_needed": True}},
        ).json()
    assert by_query == by_json
    assert by_json["complete"] and by_json["answers"] == {"has_employees": False, "invoice_needed": True}
    assert [i["key"] for i in by_json["items"]] == [
        "business-registration",
        "seal-engraving",
        "tax-registration",
        "invoice-issue",
        "bank-account-opening",
    ]
    assert by_json["time_limit_days"] == 2.0
    assert [m["kind"] for m in by_json["materials"]] == ["articles_of_association", "premises_proof"]
    assert {e["kind"] for e in by_json["exempt"]} == {"legal_rep_id_card", "business_licence"}
    assert by_json["apply_url"] == "/apply/enterprise-startup?has_employees=false&invoice_needed=true"


def test_unknown_bundles_and_bodies_are_refused(server: LiveServer) -> None:
    with server.as_user("applicant1") as c:
        assert c.get("/api/bundles/no-such-bundle/guide").status_code == 404
        assert (
            c.post("/api/bundles/enterprise-startup/guide", json={"answers": {}, "x": 1}).status_code == 422
        )
        odd = c.post("/api/bundles/enterprise-startup/guide", json={"answers": {"has_employees": "maybe"}})
        assert odd.status_code == 200 and odd.json()["answers"] == {}
