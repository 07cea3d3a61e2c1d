"""The message centre over REST: each account reads and marks only its own messages.

A real server with the demo accounts: an application puts a task in the market regulation
office's queue, so its clerk and supervisor each get a message; the applicant sees none of
theirs and cannot mark them (404, as an unknown id); counts follow reading one and reading
all; every signed-in role may ask; and an SMS/e-mail gateway subscribed by webhook to
``notified`` receives each message, signed, with nothing of the case beyond the message.
"""

from __future__ import annotations

from typing import Any

import httpx

from engine.integration.delivery import Deliverer, DeliveryPolicy
from engine.people.actors import Actor, Role
from tests.api.support import LiveServer
from tests.support.engines import upload
from tests.support.webhook_receiver import receiving

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
CLERK = "clerk.market-regulation"
SUPERVISOR = "supervisor.market-regulation"


def start_case(server: LiveServer) -> int:
    engine = server.engine
    example = dict(engine.bundle_detail(BUNDLE).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    return engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id


def page(client: httpx.Client, **params: Any) -> dict[str, Any]:
    r = client.get("/api/messages", params=params)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def unread(client: httpx.Client) -> int:
    r = client.get("/api/messages/unread-count")
    assert r.status_code == 200, r.text
    return int(r.json()["unread"])


def test_each_account_reads_and_marks_only_its_own_messages(server: LiveServer) -> None:
    clerk, supervisor = server.as_user(CLERK), server.as_user(SUPERVISOR)
    applicant = server.as_user(APPLICANT.username)
    before = unread(clerk), unread(supervisor), unread(applicant)
    case_id = start_case(server)
    assert (unread(clerk), unread(supervisor), unread(applicant)) == (before[0] + 1, before[1] + 1, before[2])

    newest = page(clerk)["items"][0]
    [task] = [t for t in server.engine.get_case(APPLICANT, case_id).tasks if t.state == "ready"]
    assert newest["kind"] == "task_ready" and newest["unread"] and newest["read_at"] is None
    assert (newest["link"], newest["case_id"], newest["task_id"]) == (f"/tasks/{task.id}", case_id, task.id)
    assert (
        newest["title"]["zh"] == "新待办：企业设立登记"
        and newest["title"]["en"] == "New task: Business registration"
    )
    assert "market-regulation" not in str(newest) and "enterprise-startup" not in str(newest)

    # Another's message is not there to mark: 404, and it stays unread.
    assert applicant.post(f"/api/messages/{newest['id']}/read").status_code == 404
    assert newest["id"] not in [m["id"] for m in page(applicant)["items"]]
    assert page(clerk, unread="true")["items"][0]["id"] == newest["id"]

    read = clerk.post(f"/api/messages/{newest['id']}/read")
    assert read.status_code == 200, read.text
    assert read.json()["unread"] is False and read.json()["read_at"]
    assert unread(clerk) == before[0] and unread(supervisor) == before[1] + 1  # the supervisor's is theirs
    assert newest["id"] not in [m["id"] for m in page(clerk, unread="true")["items"]]
    assert clerk.post("/api/messages/999999999/read").status_code == 404
    assert clerk.post("/api/messages/0/read").status_code == 422

    start_case(server)
    start_case(server)
    listed = page(supervisor, limit=1)
    assert len(listed["items"]) == 1 and listed["next"] and listed["unread"] == unread(supervisor)
    following = page(supervisor, limit=1, cursor=listed["next"])
    assert following["items"][0]["id"] < listed["items"][0]["id"]  # newest first
    assert supervisor.get("/api/messages", params={"cursor": "not-a-cursor"}).status_code == 422
    everything = supervisor.post("/api/messages/read-all")
    assert everything.status_code == 200 and everything.json() == {"marked": before[1] + 3, "unread": 0}
    assert unread(supervisor) == 0 and page(supervisor, unread="true")["items"] == []
    assert unread(clerk) == before[0] + 2  # the clerk's own are untouched
    for c in (clerk, supervisor, applicant):
        c.close()


def test_every_signed_in_role_may_ask_and_nobody_else(server: LiveServer) -> None:
    for username in ("applicant2", "analyst", "admin", "system.tax", CLERK):
        with server.as_user(username) as client:
            assert client.get("/api/messages").status_code == 200
            assert client.get("/api/messages/unread-count").status_code == 200
            assert client.post("/api/messages/read-all").status_code == 200
    with server.client() as anonymous:
        assert anonymous.get("/api/messages").status_code == 401
        assert anonymous.get("/api/messages/unread-count").status_code == 401
        assert anonymous.post("/api/messages/read-all").status_code == 401
        assert anonymous.post("/api/messages/1/read").status_code == 401


def test_an_sms_gateway_subscribed_by_webhook_receives_each_message(server: LiveServer) -> None:
    admin = server.as_user("admin")
    secret = "the-sms-gateway-secret-0123"
    with receiving(secret) as receiver:
        created = admin.post(
            "/api/webhooks", json={"url": receiver.url, "kinds": ["notified"], "secret": secret}
        )
        assert created.status_code == 201, created.text
        case_id = start_case(server)
        deliverer = Deliverer(server.engine.db, server.engine.clock, DeliveryPolicy())
        try:
            for _ in range(100):
                if deliverer.run_once().claimed == 0:
                    break
        finally:
            deliverer.close()
        receiver.wait_for(lambda r: len(r.accepted()) >= 2, timeout=20)
        got = receiver.accepted()
        admin.patch(f"/api/webhooks/{created.json()['webhook']['id']}", json={"active": False})
    admin.close()
    [task] = [t for t in server.engine.get_case(APPLICANT, case_id).tasks if t.state == "ready"]
    bodies = [r.json() for r in got]
    assert all(r.verified for r in got)
    assert {b["detail"]["recipient"] for b in bodies} == {CLERK, SUPERVISOR}
    for body in bodies:
        assert body["kind"] == "notified"
        assert body["detail"]["kind"] == "task_ready" and body["detail"]["link"] == f"/tasks/{task.id}"
        assert body["detail"]["title"] == {
            "zh": "新待办：企业设立登记",
            "en": "New task: Business registration",
        }
        # No more than the message: no case id, code, bundle, or the applicant's answers.
        assert set(body["detail"]) == {"recipient", "kind", "title", "body", "link"}
        assert body["case_id"] is None and body["case_code"] is None and body["bundle"] is None


def test_marking_read_takes_an_idempotency_key_and_replays_its_first_answer(server: LiveServer) -> None:
    start_case(server)
    with server.as_user(SUPERVISOR) as supervisor:
        newest = page(supervisor, unread="true")["items"][0]
        key = {"Idempotency-Key": f"read-{newest['id']}"}
        first = supervisor.post(f"/api/messages/{newest['id']}/read", headers=key)
        again = supervisor.post(f"/api/messages/{newest['id']}/read", headers=key)
        assert first.status_code == again.status_code == 200, first.text
        assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
        everything = supervisor.post("/api/messages/read-all", headers={"Idempotency-Key": "all-once"})
        start_case(server)  # a new message after the first answer: the replay still says what was done then
        replayed = supervisor.post("/api/messages/read-all", headers={"Idempotency-Key": "all-once"})
        assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == everything.json()
        assert unread(supervisor) == 1
