"""Webhooks over REST: an admin registers a receiver (the secret shown once), sees its deliveries
by state, and replays dead letters; nobody else may; deliveries reach a real receiver."""

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


def start_case(server: LiveServer) -> int:
    engine = server.engine
    example = dict(engine.bundle_detail(BUNDLE).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    return engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id


def deliver(server: LiveServer, **policy: Any) -> None:
    deliverer = Deliverer(server.engine.db, server.engine.clock, DeliveryPolicy(**policy))
    try:
        for _ in range(100):
            if deliverer.run_once().claimed == 0:
                return
    finally:
        deliverer.close()


def deliveries(admin: httpx.Client, webhook_id: int, **params: Any) -> list[dict[str, Any]]:
    r = admin.get(f"/api/webhooks/{webhook_id}/deliveries", params=params)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def test_only_admins_manage_webhooks_and_urls_formats_and_secrets_are_checked(server: LiveServer) -> None:
    with server.as_user("clerk.tax") as clerk, server.as_user("analyst") as analyst:
        for client in (clerk, analyst):
            assert client.get("/api/webhooks").status_code == 403
            assert client.post("/api/webhooks", json={"url": "https://example.org/x"}).status_code == 403
    with server.as_user("admin") as admin:
        for body in (
            {"url": "ftp://example.org/x"},
            {"url": "https:///no-host"},
            {"url": "http://[::1/broken"},
            {"url": "http://example.org:99999/port"},
            {"url": "https://example.org/a space"},
            {"url": "https://example.org/x", "format": "xml"},
            {"url": "https://example.org/x", "secret": "short"},
            {"url": "https://example.org/x", "kinds": ["Not A Kind"]},
            {"url": "https://example.org/x", "unknown": 1},
        ):
            r = admin.post("/api/webhooks", json=body)
            assert r.status_code == 422, (body, r.text)
        assert admin.get("/api/webhooks/999999").status_code == 404

        created = admin.post(
            "/api/webhooks",
            json={"url": "https://example.org/hook", "name": "税务系统", "departments": ["tax"]},
            headers={"Idempotency-Key": "webhook-create-1"},
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        webhook = created.json()["webhook"]
        assert len(secret) >= 32 and webhook["departments"] == ["tax"] and webhook["format"] == "events"
        again = admin.post(
            "/api/webhooks",
            json={"url": "https://example.org/hook", "name": "税务系统", "departments": ["tax"]},
            headers={"Idempotency-Key": "webhook-create-1"},
        )
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["webhook"]["id"] == webhook["id"]
        listed = admin.get("/api/webhooks").json()
        assert [w["id"] for w in listed].count(webhook["id"]) == 1
        assert secret not in admin.get(f"/api/webhooks/{webhook['id']}").text  # never shown again
        assert all("secret" not in w for w in listed)

        changed = admin.patch(
            f"/api/webhooks/{webhook['id']}", json={"active": False, "kinds": ["completed"]}
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["active"], changed.json()["kinds"]) == (False, ["completed"])
        rotated = admin.post(f"/api/webhooks/{webhook['id']}/secret", json={})
        assert rotated.status_code == 200 and rotated.json()["secret"] != secret
        removed = admin.delete(f"/api/webhooks/{webhook['id']}")
        assert removed.status_code == 200 and removed.json()["id"] == webhook["id"]
        assert admin.get(f"/api/webhooks/{webhook['id']}").status_code == 404


def test_dead_letters_are_listed_and_replayed_to_a_real_receiver(server: LiveServer) -> None:
    admin = server.as_user("admin")
    secret = "a-secret-only-the-receiver-knows"
    with receiving(secret) as receiver:
        created = admin.post(
            "/api/webhooks",
            json={"url": receiver.url, "kinds": ["submitted"], "bundles": [BUNDLE], "secret": secret},
        )
        assert created.status_code == 201, created.text
        assert created.json()["secret"] == secret
        webhook_id = created.json()["webhook"]["id"]
        case_id = start_case(server)
        pending = deliveries(admin, webhook_id, state="pending")
        assert [(d["kind"], d["case_id"], d["attempts"]) for d in pending] == [("submitted", case_id, 0)]
        assert pending[0]["case_code"]

        receiver.status = 503
        deliver(server, max_attempts=1)
        dead = deliveries(admin, webhook_id, state="dead")
        assert [d["id"] for d in dead] == [pending[0]["id"]]
        assert dead[0]["last_status"] == 503 and dead[0]["attempts"] == 1
        assert admin.get(f"/api/webhooks/{webhook_id}").json()["dead"] == 1
        assert deliveries(admin, webhook_id, state="pending") == []

        receiver.status = 200
        replayed = admin.post(f"/api/webhooks/{webhook_id}/deliveries/replay-dead")
        assert replayed.status_code == 200 and replayed.json() == {"replayed": 1}
        deliver(server)
        done = deliveries(admin, webhook_id, state="delivered")
        assert [d["id"] for d in done] == [pending[0]["id"]] and done[0]["replays"] == 1
        accepted = receiver.accepted()
        assert [r.event_id for r in accepted] == [pending[0]["event_id"]] and accepted[0].verified
        assert accepted[0].json()["case_id"] == case_id

        one = admin.post(f"/api/webhooks/{webhook_id}/deliveries/{pending[0]['id']}/replay")
        assert one.status_code == 200 and one.json()["state"] == "pending"
        assert admin.post(f"/api/webhooks/{webhook_id}/deliveries/999999/replay").status_code == 404
        assert admin.get(f"/api/webhooks/{webhook_id}/deliveries?state=lost").status_code == 422
    admin.close()
