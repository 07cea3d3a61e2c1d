"""Pre-review over REST: ``review`` in GET /api/materials/{id}, the case and the task; who sees what.

The issue's "Done when" through the API: an application whose licence names another company
shows the mismatch to its applicant and to the clerk; the same application with the right
licence shows ``match`` for every field read. The worker's job runs through the engine of the
live server (its tick, as ``onething serve`` runs it beside the app).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.support import LiveServer, sqlite_server, upload
from tests.review.support import BUNDLE, BUNDLE_DIR, OTHER_COMPANY, RIGHT, licence


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with sqlite_server(tmp_path_factory.mktemp("review-api")) as running:
        running.engine.deployments.deploy_dir(BUNDLE_DIR)
        yield running


def apply_with(server: LiveServer, company: str) -> tuple[str, int]:
    """Upload a licence naming ``company``, let the worker read it, apply with ``RIGHT``: (material, case)."""
    with server.as_user("applicant1") as c:
        material = upload(c, "business_licence", licence(company), "licence.png")["id"]
        assert c.get(f"/api/materials/{material}").json()["review"]["status"] == "pending"
        server.engine.run_review_jobs()
        r = c.post(
            "/api/cases", json={"bundle": BUNDLE, "data": RIGHT, "materials": {"business_licence": material}}
        )
        assert r.status_code == 201, r.text
        return material, int(r.json()["id"])


def verdicts(review: dict[str, Any]) -> dict[str, str]:
    return {f["field"]: f["verdict"] for f in review["findings"]}


def test_a_licence_of_another_company_shows_the_mismatch_to_the_applicant_and_the_clerk(
    server: LiveServer,
) -> None:
    material, case_id = apply_with(server, OTHER_COMPANY)
    with server.as_user("applicant1") as c:
        review = c.get(f"/api/materials/{material}").json()["review"]
        assert review["status"] == "done" and 0.8 < review["confidence"] <= 1
        assert review["fields"]["name"] == OTHER_COMPANY
        mismatch = next(f for f in review["findings"] if f["field"] == "company_name")
        assert mismatch == {
            "field": "company_name",
            "form_value": RIGHT["company_name"],
            "document_value": OTHER_COMPANY,
            "verdict": "mismatch",
        }
        case = c.get(f"/api/cases/{case_id}").json()
        assert verdicts(case["reviews"]["business_licence"])["company_name"] == "mismatch"
    with server.as_user("clerk.market-regulation") as c:
        task = next(
            t
            for t in c.get("/api/tasks", params={"department": "market-regulation"}).json()["items"]
            if t["case_id"] == case_id
        )
        detail = c.get(f"/api/tasks/{task['id']}").json()
        assert verdicts(detail["reviews"]["business_licence"]) == {
            "company_name": "mismatch",
            "uscc": "match",
            "legal_rep_name": "match",
            "address": "match",
        }
        # A clerk reads the case's progress, not its answers: no materials, no reviews.
        assert c.get(f"/api/cases/{case_id}").json()["reviews"] is None
    # Another applicant may not see it at all (404, as the material itself).
    with server.as_user("applicant2") as c:
        assert c.get(f"/api/materials/{material}").status_code == 404


def test_the_right_licence_matches_every_field_read(server: LiveServer) -> None:
    material, _case_id = apply_with(server, RIGHT["company_name"])
    with server.as_user("applicant1") as c:
        review = c.get(f"/api/materials/{material}").json()["review"]
    assert review["status"] == "done"
    assert verdicts(review) == dict.fromkeys(("company_name", "uscc", "legal_rep_name", "address"), "match")


def test_analysts_read_how_often_pre_review_predicted_a_return(server: LiveServer) -> None:
    with server.as_user("analyst") as c:
        r = c.get("/api/analytics/pre-review", params={"bundle": BUNDLE})
    assert r.status_code == 200, r.text
    figures = r.json()
    assert set(figures) == {
        "reviewed",
        "with_mismatch",
        "predicted_returns",
        "missed_returns",
        "precision",
        "recall",
    }
    assert figures["reviewed"] >= figures["with_mismatch"] >= 0


def test_the_openapi_document_describes_the_review(tmp_path: Path, server: LiveServer) -> None:
    with server.client() as c:
        schemas = c.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["MaterialReviewPublic"]["properties"]) == {
        "status",
        "fields",
        "confidence",
        "findings",
    }
    assert "review" in schemas["MaterialPublic"]["properties"]
    assert "reviews" in schemas["TaskDetailPublic"]["properties"]
