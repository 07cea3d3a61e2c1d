"""Complaints, rectifications and the supervisor queue over real HTTP, as the demo accounts use them.

An applicant complains (on a case and without one); the supervisor of the department finds
it in the supervisor queue and answers; the applicant reads the answer. A 2-star rating
opens a rectification that the department's clerk sees and answers, and the applicant's case
timeline shows both. A task past its due time (a sweep with a clock moved a month ahead) is
escalated to the supervisor, who closes it with a note. Nobody else sees or does any of it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from engine.deadlines import tracking
from engine.time.clock import ManualClock
from tests.api.support import LiveServer
from tests.api.walking import apply, bundle_example, work_case

BUNDLE = "school-enrollment"


def start_case(server: LiveServer, applicant: str, label: str) -> tuple[int, dict[str, Any]]:
    """A running school-enrollment case of the applicant (its id) and the example it was made from."""
    with server.as_user(applicant) as client:
        example = bundle_example(client, BUNDLE, 0)
        started = apply(client, BUNDLE, example, label)
        assert started.status_code == 201, started.text
        return int(started.json()["id"]), example


def case_of(server: LiveServer, applicant: str, case_id: int) -> dict[str, Any]:
    """The case as its owner reads it."""
    with server.as_user(applicant) as client:
        r = client.get(f"/api/cases/{case_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def queue(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    """The open supervisor queue the caller may read."""
    r = client.get("/api/supervision", params=params)
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()
    return entries


def entry_of(entries: list[dict[str, Any]], subject: str, subject_id: int) -> dict[str, Any] | None:
    """The queue entry about one task, rectification or complaint, if listed."""
    found = [e for e in entries if e["subject"] == subject and e["subject_id"] == subject_id]
    assert len(found) <= 1
    return found[0] if found else None


def test_a_complaint_on_a_case_reaches_its_departments_supervisor_who_answers_the_applicant(
    server: LiveServer,
) -> None:
    case_id, _ = start_case(server, "applicant1", "complaint-on-case")
    applicant = server.as_user("applicant1")
    filed = applicant.post(
        "/api/complaints",
        json={"case_id": case_id, "text": "户籍核验三天没有进展", "department": "public-security"},
    )
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert (complaint["case_id"], complaint["bundle"], complaint["department"]) == (
        case_id,
        BUNDLE,
        "public-security",
    )
    assert (complaint["state"], complaint["complainant"], complaint["reply"]) == ("open", "applicant1", "")
    assert complaint["due_at"] > complaint["created_at"]

    supervisor = server.as_user("supervisor.public-security")
    entry = entry_of(queue(supervisor), "complaint", complaint["id"])
    assert entry is not None and entry["case_id"] == case_id and entry["level"] == "filed"
    assert entry["title"]["zh"] == "办不成事反映" and entry["department"] == "public-security"
    assert entry_of(queue(supervisor, department="public-security"), "complaint", complaint["id"]) == entry

    # Nobody else answers it, or even finds it.
    with server.as_user("supervisor.education") as other_supervisor:
        assert entry_of(queue(other_supervisor), "complaint", complaint["id"]) is None
        assert other_supervisor.get("/api/supervision?department=public-security").status_code == 403
        refused = other_supervisor.post(f"/api/complaints/{complaint['id']}/answer", json={"reply": "x"})
        assert refused.status_code == 404, refused.text
    with server.as_user("clerk.public-security") as clerk:
        assert clerk.get("/api/supervision").status_code == 403  # a clerk, not a supervisor
        assert clerk.post(f"/api/complaints/{complaint['id']}/answer", json={"reply": "x"}).status_code == 403
    with server.as_user("applicant2") as stranger:
        assert all(c["id"] != complaint["id"] for c in stranger.get("/api/complaints").json())
        theirs = stranger.post("/api/complaints", json={"case_id": case_id, "text": "我也来说一句"})
        assert theirs.status_code == 404, theirs.text
    # A complaint is closed by answering it, not by resolving its queue entry.
    assert entry is not None
    closed = supervisor.post(f"/api/supervision/{entry['id']}/resolve", json={"note": "已处理"})
    assert closed.status_code == 409, closed.text

    blank = supervisor.post(f"/api/complaints/{complaint['id']}/answer", json={"reply": "   "})
    assert blank.status_code == 422 and blank.json()["detail"][0]["where"] == "reply"
    answered = supervisor.post(
        f"/api/complaints/{complaint['id']}/answer", json={"reply": "已督促户籍科今日办结，并向您致歉"}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "answered"
    assert answered.json()["replied_by"] == "supervisor.public-security"
    again = supervisor.post(f"/api/complaints/{complaint['id']}/answer", json={"reply": "再答一次"})
    assert again.status_code == 409, again.text
    assert entry_of(queue(supervisor), "complaint", complaint["id"]) is None  # the queue entry closed

    (mine,) = [c for c in applicant.get("/api/complaints").json() if c["id"] == complaint["id"]]
    assert (mine["state"], mine["reply"]) == ("answered", "已督促户籍科今日办结，并向您致歉")
    timeline = case_of(server, "applicant1", case_id)["timeline"]
    said = [(e["kind"], e["detail"].get("complaint_id")) for e in timeline]
    assert ("complaint", complaint["id"]) in said and ("complaint_answered", complaint["id"]) in said
    answer_line = next(e for e in timeline if e["kind"] == "complaint_answered")
    assert answer_line["detail"]["reply"] == "已督促户籍科今日办结，并向您致歉"
    for client in (applicant, supervisor):
        client.close()


def test_a_complaint_without_a_case_goes_to_the_service_centre_and_one_on_a_case_to_its_holder(
    server: LiveServer,
) -> None:
    applicant = server.as_user("applicant1")
    alone = applicant.post("/api/complaints", json={"text": "窗口说这件事不归他们管，不知道该找谁"})
    assert alone.status_code == 201, alone.text
    assert (alone.json()["case_id"], alone.json()["department"]) == (None, "service-center")
    with server.as_user("supervisor.service-center") as centre:
        entry = entry_of(queue(centre), "complaint", alone.json()["id"])
        assert entry is not None and entry["case_id"] is None
        answered = centre.post(
            f"/api/complaints/{alone.json()['id']}/answer", json={"reply": "已转交民政局办理"}
        )
        assert answered.status_code == 200, answered.text
    with server.as_user("supervisor.public-security") as elsewhere:
        assert entry_of(queue(elsewhere), "complaint", alone.json()["id"]) is None

    case_id, _ = start_case(server, "applicant1", "complaint-holder")
    holders = {
        t["department"] for t in case_of(server, "applicant1", case_id)["tasks"] if t["state"] == "ready"
    }
    held = applicant.post("/api/complaints", json={"case_id": case_id, "text": "一直在审核中"})
    assert held.status_code == 201, held.text
    assert held.json()["department"] in holders

    # A double submit (the same Idempotency-Key) files one complaint and answers the first answer twice.
    twice = {"text": "提交了两次吗？", "department": "tax"}
    first = applicant.post("/api/complaints", json=twice, headers={"Idempotency-Key": "complaint-1"})
    repeat = applicant.post("/api/complaints", json=twice, headers={"Idempotency-Key": "complaint-1"})
    assert first.status_code == repeat.status_code == 201, repeat.text
    assert repeat.json() == first.json() and repeat.headers["Idempotent-Replayed"] == "true"
    assert [c["text"] for c in applicant.get("/api/complaints").json()].count("提交了两次吗？") == 1

    unknown = applicant.post("/api/complaints", json={"text": "x", "department": "no-such-department"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["where"] == "department"
    empty = applicant.post("/api/complaints", json={"text": "   "})
    assert empty.status_code == 422 and empty.json()["detail"][0]["where"] == "text"
    listed = [c["id"] for c in applicant.get("/api/complaints").json()]
    assert listed.index(held.json()["id"]) < listed.index(alone.json()["id"])  # newest first
    with server.as_user("clerk.service-center") as clerk:
        refused = clerk.post("/api/complaints", json={"text": "窗口人员不能投诉"})
        assert refused.status_code == 403, refused.text
    applicant.close()


def test_a_two_star_rating_is_rectified_by_the_departments_clerk_and_the_applicant_sees_the_reply(
    server: LiveServer,
) -> None:
    case_id, example = start_case(server, "applicant2", "rectified")
    with server.as_user("applicant2") as owner:
        departments = owner.get(f"/api/bundles/{BUNDLE}").json()["departments"]
    work_case(server, case_id, BUNDLE, departments, example["decisions"])
    owner = server.as_user("applicant2")
    rated = owner.post(
        f"/api/cases/{case_id}/rating",
        json={"score": 2, "comment": "核验退回两次", "department": "housing-construction"},
    )
    assert rated.status_code == 201, rated.text
    opened = rated.json()["rectification"]
    assert opened["department"] == "housing-construction" and opened["state"] == "open"
    assert opened["case_id"] == case_id and opened["due_at"] > opened["created_at"]

    clerk = server.as_user("clerk.housing-construction")
    listed = clerk.get("/api/rectifications")
    assert listed.status_code == 200, listed.text
    (task,) = [r for r in listed.json() if r["id"] == opened["id"]]
    assert (task["rating_id"], task["bundle"], task["reply"]) == (rated.json()["id"], BUNDLE, "")
    only = clerk.get("/api/rectifications", params={"department": "housing-construction"}).json()
    assert opened["id"] in [r["id"] for r in only]
    assert clerk.get("/api/rectifications", params={"department": "tax"}).status_code == 403

    with server.as_user("clerk.education") as other_clerk:
        assert opened["id"] not in [r["id"] for r in other_clerk.get("/api/rectifications").json()]
        reply = {"reply": "我们来答"}
        assert other_clerk.post(f"/api/rectifications/{opened['id']}/reply", json=reply).status_code == 404
    with server.as_user("analyst") as analyst:
        assert opened["id"] in [r["id"] for r in analyst.get("/api/rectifications").json()]
        assert analyst.post(f"/api/rectifications/{opened['id']}/reply", json=reply).status_code == 403
    assert owner.get("/api/rectifications").status_code == 403
    assert owner.post(f"/api/rectifications/{opened['id']}/reply", json=reply).status_code == 403

    answer = "已优化租赁核验退回说明，并致电申请人致歉"
    replied = clerk.post(f"/api/rectifications/{opened['id']}/reply", json={"reply": answer})
    assert replied.status_code == 200, replied.text
    body = replied.json()
    assert (body["state"], body["reply"], body["replied_by"]) == (
        "replied",
        answer,
        "clerk.housing-construction",
    )
    twice = clerk.post(f"/api/rectifications/{opened['id']}/reply", json={"reply": "再答一次"})
    assert twice.status_code == 409, twice.text
    assert opened["id"] not in [r["id"] for r in clerk.get("/api/rectifications").json()]  # open ones only

    timeline = case_of(server, "applicant2", case_id)["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert kinds[-3:] == ["rated", "rectification_opened", "rectification_replied"]
    assert timeline[-1]["detail"]["reply"] == answer and timeline[-1]["actor"] == "clerk.housing-construction"
    with server.as_user("applicant1") as stranger:
        assert stranger.get(f"/api/cases/{case_id}").status_code == 404
    for client in (owner, clerk):
        client.close()


def test_an_overdue_task_is_escalated_to_its_supervisor_who_resolves_it_with_a_note(
    server: LiveServer,
) -> None:
    case_id, _ = start_case(server, "applicant1", "escalated")
    # The worker's sweep, with a clock a month ahead: every open task of the case is late.
    month_later = ManualClock(server.engine.clock.now() + timedelta(days=30))
    swept = tracking.run_sweep(server.engine.db, month_later, server.engine.calendar)
    assert swept.escalated >= 1

    supervisor = server.as_user("supervisor.public-security")
    late = [e for e in queue(supervisor) if e["subject"] == "work_item" and e["case_id"] == case_id]
    assert [(e["level"], e["department"], e["item"]) for e in late] == [
        ("escalated", "public-security", "household-check")
    ]
    (entry,) = late
    assert entry["title"]["zh"] == "任务超期督办"
    with server.as_user("analyst") as analyst:
        assert entry_of(queue(analyst), "work_item", entry["subject_id"]) is not None  # read-only
        assert analyst.post(f"/api/supervision/{entry['id']}/resolve", json={"note": "x"}).status_code == 403
    with server.as_user("supervisor.education") as other:
        refused = other.post(f"/api/supervision/{entry['id']}/resolve", json={"note": "不归我管"})
        assert refused.status_code == 404, refused.text
    blank = supervisor.post(f"/api/supervision/{entry['id']}/resolve", json={"note": "  "})
    assert blank.status_code == 422, blank.text

    done = supervisor.post(f"/api/supervision/{entry['id']}/resolve", json={"note": "已约谈经办人，当日办结"})
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["resolved_by"]) == ("resolved", "supervisor.public-security")
    again = supervisor.post(f"/api/supervision/{entry['id']}/resolve", json={"note": "再办一次"})
    assert again.status_code == 409, again.text
    assert entry_of(queue(supervisor), "work_item", entry["subject_id"]) is None

    timeline = case_of(server, "applicant1", case_id)["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert "overdue" in kinds and "escalated" in kinds
    (line,) = [e for e in timeline if e["kind"] == "escalation_resolved"]
    assert (
        line["detail"]["note"] == "已约谈经办人，当日办结" and line["actor"] == "supervisor.public-security"
    )
    supervisor.close()
