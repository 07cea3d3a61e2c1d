"""Suspend and resume over REST (挂起/恢复), on a real server with the demo accounts.

The market regulation office's supervisor suspends a case whose registration waits in the
office's queue: the case answers ``suspended`` with its reason, basis and since, the list filters
on it, the clerk's claim is refused with a clear 409, a repeated request with the same
Idempotency-Key answers the same without suspending twice, suspending again is 409, a plain clerk
is 403 and another applicant's supervisor-less view 404; the resume restores it and keeps the history.
"""

from __future__ import annotations

from engine.people.actors import Actor, Role
from tests.api.support import LiveServer
from tests.support.engines import upload

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
SUPERVISOR = "supervisor.market-regulation"
CLERK = "clerk.market-regulation"
SUSPEND = {"reason": "等待法院裁判结果", "legal_basis": "《市场主体登记管理条例》第二十条"}


def start_case(server: LiveServer) -> int:
    engine = server.engine
    example = dict(engine.bundle_detail(BUNDLE).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    return engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id


def test_a_supervisor_suspends_and_resumes_a_case_over_rest(server: LiveServer) -> None:
    case_id = start_case(server)
    supervisor, clerk = server.as_user(SUPERVISOR), server.as_user(CLERK)
    applicant = server.as_user(APPLICANT.username)
    key = {"Idempotency-Key": f"suspend-{case_id}"}

    assert clerk.post(f"/api/cases/{case_id}/suspend", json=SUSPEND).status_code == 403
    assert applicant.post(f"/api/cases/{case_id}/suspend", json=SUSPEND).status_code == 403
    blank = supervisor.post(f"/api/cases/{case_id}/suspend", json={"reason": "", "legal_basis": " "})
    assert blank.status_code == 422
    assert sorted(p["where"] for p in blank.json()["detail"]) == ["legal_basis", "reason"]

    first = supervisor.post(f"/api/cases/{case_id}/suspend", json=SUSPEND, headers=key)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "suspended"
    assert body["suspension"]["reason"] == SUSPEND["reason"]
    assert body["suspension"]["legal_basis"] == SUSPEND["legal_basis"]
    assert body["suspension"]["suspended_at"] and body["suspension"]["resumed_at"] is None
    again = supervisor.post(f"/api/cases/{case_id}/suspend", json=SUSPEND, headers=key)
    assert again.status_code == 200 and len(again.json()["suspensions"]) == 1  # replayed, not twice
    twice = supervisor.post(f"/api/cases/{case_id}/suspend", json=SUSPEND)
    assert twice.status_code == 409 and "already suspended" in twice.json()["detail"]

    mine = applicant.get(f"/api/cases/{case_id}").json()
    assert mine["status"] == "suspended" and mine["suspension"]["suspended_by"] == ""
    listed = supervisor.get("/api/cases", params={"status": "suspended"}).json()["items"]
    assert case_id in [c["id"] for c in listed]
    [task] = [t for t in mine["tasks"] if t["state"] == "ready"]
    refused = clerk.post(f"/api/tasks/{task['id']}/claim")
    assert refused.status_code == 409 and "挂起" in refused.json()["detail"]
    assert applicant.post(f"/api/cases/{case_id}/withdraw").status_code == 409

    resumed = supervisor.post(f"/api/cases/{case_id}/resume", json={"note": "已收到裁判文书"})
    assert resumed.status_code == 200, resumed.text
    after = resumed.json()
    assert after["status"] == "running" and after["suspension"] is None
    [record] = after["suspensions"]
    assert (record["resumed_by"], record["resume_note"]) == (SUPERVISOR, "已收到裁判文书")
    assert supervisor.post(f"/api/cases/{case_id}/resume").status_code == 409
    assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
    assert supervisor.post("/api/cases/987654321/suspend", json=SUSPEND).status_code == 404
