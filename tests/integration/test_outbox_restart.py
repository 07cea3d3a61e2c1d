"""The outbox survives a killed server: events committed before a SIGKILL are delivered after restart.

``onething serve`` (a real process, SQLite file) takes an application while the receiver is
down: the case's events are committed with their deliveries, and the server's worker thread
fails to send them (connection refused, retried with backoff). The server is SIGKILLed, the
receiver comes up on the subscription's port, the server starts again on the same database,
and the receiver gets every event of the case, in order, each signature valid.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.support import ServeProcess, free_port, pdf, start_serve, upload
from tests.support.webhook_receiver import receiving

BUNDLE = "enterprise-startup"
SECRET = "the-provincial-platform-secret"
ENV = {
    "ONETHING_WEBHOOK_BACKOFF_SECONDS": "0.2",
    "ONETHING_WEBHOOK_BACKOFF_MAX_SECONDS": "0.5",
    "ONETHING_WEBHOOK_MAX_ATTEMPTS": "100",
    "ONETHING_WEBHOOK_POLL_SECONDS": "0.2",
    "ONETHING_WEBHOOK_TIMEOUT_SECONDS": "2",
}


def signed_in(served: ServeProcess, username: str) -> httpx.Client:
    r = httpx.post(served.base_url + "/api/auth/token", data={"username": username, "password": "demo"})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    return httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def example() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    manifest = yaml.safe_load((root / "processes" / BUNDLE / "bundle.yaml").read_text(encoding="utf-8"))
    found: dict[str, Any] = manifest["examples"][0]
    return found


def deliveries(admin: httpx.Client, webhook_id: int) -> list[dict[str, Any]]:
    r = admin.get(f"/api/webhooks/{webhook_id}/deliveries", params={"limit": 500})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")


@pytest.mark.slow
def test_events_committed_before_a_sigkill_are_delivered_after_the_restart(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'onething.db'}"
    port = free_port()  # the receiver's, down for now
    first = start_serve(db_url, tmp_path, tmp_path / "first.log", "--demo", env=ENV)
    try:
        with signed_in(first, "admin") as admin, signed_in(first, "applicant1") as applicant:
            created = admin.post(
                "/api/webhooks",
                json={"url": f"http://127.0.0.1:{port}/hook", "secret": SECRET, "bundles": [BUNDLE]},
            )
            assert created.status_code == 201, created.text
            webhook_id = created.json()["webhook"]["id"]
            application = example()
            materials = {kind: upload(applicant, kind, pdf(kind))["id"] for kind in application["materials"]}
            r = applicant.post(
                "/api/cases", json={"bundle": BUNDLE, "data": application["data"], "materials": materials}
            )
            assert r.status_code == 201, r.text
            case_id = r.json()["id"]
            queued = deliveries(admin, webhook_id)
            assert queued and {d["case_id"] for d in queued} == {case_id}
            # The server's worker is trying (and failing: nobody listens) when it is killed.
            wait_for(lambda: deliveries(admin, webhook_id)[0]["attempts"] >= 2, 30, "a failed try")
            assert all(d["state"] == "pending" for d in deliveries(admin, webhook_id))
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)
    assert first.process.returncode == -signal.SIGKILL

    with receiving(SECRET, port=port) as receiver:
        second = start_serve(db_url, tmp_path, tmp_path / "second.log", env=ENV)
        try:
            expected = [d["event_id"] for d in queued]
            receiver.wait_for(lambda r: len(r.accepted()) >= len(expected), timeout=60)
            with signed_in(second, "admin") as admin:
                wait_for(
                    lambda: all(d["state"] == "delivered" for d in deliveries(admin, webhook_id)),
                    30,
                    "every delivery recorded as delivered",
                )
        finally:
            second.stop()
        accepted = receiver.accepted()
    assert [r.event_id for r in accepted] == expected  # each once, in the case's order
    assert all(r.verified for r in accepted)
    assert accepted[0].json()["kind"] == "submitted" and accepted[0].json()["case_id"] == case_id
