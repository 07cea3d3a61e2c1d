"""Two ``onething worker`` processes on one PostgreSQL database deliver each outbox event exactly once.

Cases run in the test process (their events and deliveries committed to the outbox); two
real ``onething worker`` processes deliver them to a receiver on 127.0.0.1. The receiver
sees every event once (no retry was needed, so a second copy could only come from two
workers sending one delivery), each case's events in order, every signature valid, and
both workers took part.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.integration.subscriptions import Webhooks
from engine.people.actors import Actor, Role
from engine.storage.outbox_tables import OutboxEvent, WebhookDelivery
from engine.storage.settings import shipped_processes_dir
from engine.time.clock import ManualClock
from tests.api.support import onething_command
from tests.support.engines import APPLICANT, make_engine, upload, work_all
from tests.support.webhook_receiver import receiving

BUNDLE = "enterprise-startup"
SECRET = "two-workers-share-one-secret"
ADMIN = Actor("admin", Role.ADMIN)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_worker_processes_deliver_each_event_once_in_case_order(pg_url: str, tmp_path: Path) -> None:
    # Now, not a fixed day: the workers' SLA sweep (on the wall clock) must find nothing overdue.
    engine = make_engine(pg_url, tmp_path, ManualClock(datetime.now(UTC)))
    engine.deployments.deploy_dir(shipped_processes_dir() / BUNDLE)
    example = dict(engine.bundle_detail(BUNDLE).examples[0])
    with receiving(SECRET) as receiver:
        receiver.delay = 0.005  # both workers have claims in flight at the same time
        webhook = Webhooks(engine.db, engine.clock).create(ADMIN, receiver.url, secret=SECRET).subscription
        environment = {
            **os.environ,
            "ONETHING_DATA_DIR": str(tmp_path / "worker-data"),
            "ONETHING_WEBHOOK_CONCURRENCY": "2",
            "ONETHING_WEBHOOK_POLL_SECONDS": "0.05",
        }
        logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
        workers = []
        for log in logs:
            with log.open("wb") as handle:
                workers.append(
                    subprocess.Popen(
                        [*onething_command(), "worker", "--db", pg_url],
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                        env=environment,
                        cwd=str(tmp_path),
                    )
                )
        try:
            deadline = time.monotonic() + 60
            while not all("timer worker started" in log.read_text(errors="replace") for log in logs):
                assert time.monotonic() < deadline, "the workers did not start"
                assert all(w.poll() is None for w in workers), "a worker exited"
                time.sleep(0.05)
            cases = []  # the cases run while both workers deliver
            for _ in range(5):
                materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
                case_id = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
                work_all(engine, case_id, example["decisions"])
                cases.append(case_id)
            with engine.db.read() as s:
                rows = s.execute(
                    select(OutboxEvent.case_id, OutboxEvent.event_id).order_by(OutboxEvent.id)
                ).all()
            expected: dict[int, list[str]] = {case_id: [] for case_id in cases}
            for of_case, event_id in rows:
                assert of_case is not None
                expected[of_case].append(event_id)
            total = len(rows)
            receiver.wait_for(lambda r: len(r.accepted()) >= total, timeout=120)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
        received = receiver.all()
        with engine.db.read() as s:
            by_worker = Counter(
                s.scalars(select(WebhookDelivery.state).where(WebhookDelivery.subscription_id == webhook.id))
            )
    engine.close()
    assert by_worker == {"delivered": total}
    assert len(received) == total and len({r.event_id for r in received}) == total
    assert all(r.verified and r.status == 200 for r in received)
    seen: dict[int, list[str]] = {case_id: [] for case_id in cases}
    for one in received:
        seen[one.json()["case_id"]].append(one.event_id)
    assert seen == expected
    senders = Counter(one.user_agent for one in received)
    assert len(senders) == 2 and all(n > 0 for n in senders.values()), senders  # both workers sent
    for log in logs:  # each worker process ran its delivery thread and exited cleanly
        assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace")
