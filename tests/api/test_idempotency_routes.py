"""Every mutating route under /api honours ``Idempotency-Key`` (finding 14).

The OpenAPI document is the list: a route that changes something and lacks the header
parameter fails the walk, so a new route cannot forget it. Routes whose work is naturally
repeatable (an upload stored by content, a claim of one's own task) still store their first
answer and replay it; the others (a withdrawal) are done once.
"""

from __future__ import annotations

from typing import Any

from tests.api.support import LiveServer, pdf
from tests.api.walking import apply, bundle_example, open_tasks_of

MUTATING = ("post", "put", "patch", "delete")
# Signing in changes nothing a repeat could double: it hands out a token.
EXEMPT = {("post", "/api/auth/token")}
REPLAYED = "Idempotent-Replayed"


def test_every_mutating_api_route_takes_an_idempotency_key(server: LiveServer) -> None:
    with server.client() as anonymous:
        document: dict[str, Any] = anonymous.get("/openapi.json").json()
    checked, missing = [], []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if method not in MUTATING or (method, path) in EXEMPT:
                continue
            checked.append(f"{method.upper()} {path}")
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if "Idempotency-Key" not in headers:
                missing.append(f"{method.upper()} {path}")
    assert len(checked) >= 15, checked  # the walk saw the routes (cases, tasks, materials, accounts ...)
    assert not missing, f"mutating routes without an Idempotency-Key header: {missing}"


def test_an_upload_with_a_key_stores_its_answer_and_replays_it(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:

        def send(content: bytes) -> Any:
            return applicant.post(
                "/api/materials",
                data={"kind": "birth_certificate"},
                files={"file": ("birth.pdf", content, "application/pdf")},
                headers={"Idempotency-Key": "upload-once"},
            )

        first = send(pdf("idempotent upload"))
        assert first.status_code == 201, first.text
        again = send(pdf("idempotent upload"))
        assert again.status_code == 201 and again.headers[REPLAYED] == "true"
        assert again.json() == first.json()
        other = send(pdf("another document"))  # the same key for other bytes is another request
        assert other.status_code == 422, other.text


def test_a_claim_and_a_withdrawal_with_keys_are_done_once_and_replayed(server: LiveServer) -> None:
    with server.as_user("applicant2") as applicant:
        example = bundle_example(applicant, "school-enrollment", 0)
        made = apply(applicant, "school-enrollment", example, "idempotent routes")
        assert made.status_code == 201, made.text
        case_id = made.json()["id"]
    with server.as_user("clerk.public-security") as clerk:
        (task,) = [t for t in open_tasks_of(clerk, case_id, "school-enrollment") if t["state"] == "ready"]
        claims = [
            clerk.post(f"/api/tasks/{task['id']}/claim", headers={"Idempotency-Key": "claim-once"})
            for _ in range(2)
        ]
        assert [c.status_code for c in claims] == [200, 200], claims[0].text
        assert REPLAYED not in claims[0].headers and claims[1].headers[REPLAYED] == "true"
        assert claims[1].json() == claims[0].json()
    with server.as_user("applicant2") as applicant:
        withdrawals = [
            applicant.post(f"/api/cases/{case_id}/withdraw", headers={"Idempotency-Key": "withdraw-once"})
            for _ in range(2)
        ]
        assert [w.status_code for w in withdrawals] == [200, 200], withdrawals[0].text
        assert withdrawals[1].headers[REPLAYED] == "true"
        assert withdrawals[0].json()["status"] == "withdrawn"
        assert withdrawals[1].json() == withdrawals[0].json()
        # Without a key the repeat is what it is: the case has ended.
        assert applicant.post(f"/api/cases/{case_id}/withdraw").status_code == 409
        timeline = applicant.get(f"/api/cases/{case_id}").json()["timeline"]
    assert sum(1 for e in timeline if e["kind"] == "withdrawn") == 1
