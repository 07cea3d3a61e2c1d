"""情形引导 over REST: the questions, and what the answers (query parameters) mean."""

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


def test_answers_as_query_parameters_give_one_route(server: LiveServer) -> None:
    with server.as_user("clerk.market-regulation") as c:
        r = c.get("/api/bundles/enterprise-startup/guide?has_employees=false&invoice_needed=true")
        assert r.status_code == 200, r.text
        guide = r.json()
    assert guide["complete"] and guide["answers"] == {"has_employees": False, "invoice_needed": True}
    assert [i["key"] for i in guide["items"]] == [
        "business-registration",
        "seal-engraving",
        "tax-registration",
        "invoice-issue",
        "bank-account-opening",
    ]
    assert guide["items"][0]["department"]["zh"] == "市场监督管理局"
    assert guide["time_limit_days"] == 2.0 and guide["all_items"] == 8
    assert [m["kind"] for m in guide["materials"]] == ["articles_of_association", "premises_proof"]
    assert {e["kind"] for e in guide["exempt"]} == {"legal_rep_id_card", "business_licence"}
    assert guide["apply_url"] == "/apply/enterprise-startup?has_employees=false&invoice_needed=true"


def test_unknown_bundles_are_refused_and_odd_answers_ignored(server: LiveServer) -> None:
    with server.as_user("applicant1") as c:
        assert c.get("/api/bundles/no-such-bundle/guide").status_code == 404
        odd = c.get("/api/bundles/enterprise-startup/guide?has_employees=maybe&other=1")
        assert odd.status_code == 200 and odd.json()["answers"] == {}
        assert c.post("/api/bundles/enterprise-startup/guide", json={}).status_code == 405
