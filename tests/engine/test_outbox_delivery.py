"""Delivering the outbox over real HTTP to a receiver on 127.0.0.1.

The receiver sees each event id once, in case order, and every signature verifies; a
failing receiver is retried with exponential backoff (nothing is tried before its time),
the case's later events wait behind the failing one until it is dead-lettered, and a
replay delivers it; two workers on PostgreSQL deliver every event exactly once, in order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.integration.delivery import DEAD, DELIVERED, Deliverer, DeliveryPolicy, delivery_lags, purge
from engine.integration.signing import verify
from engine.integration.subscriptions import Webhooks
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.db import Database
from engine.storage.outbox_tables import OutboxEvent
from engine.storage.settings import shipped_processes_dir
from engine.time.clock import ManualClock, SystemClock
from tests.support.engines import APPLICANT, MONDAY, make_engine, upload, work_all
from tests.support.webhook_receiver import receiving

STARTUP = "enterprise-startup"
ADMIN = Actor("admin", Role.ADMIN)
SECRET = "s3cret-for-the-receiver-0123456789"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path, clock)
    eng.deployments.deploy_dir(shipped_processes_dir() / STARTUP)
    yield eng
    eng.close()


def run_case(engine: Engine) -> int:
    example = dict(engine.bundle_detail(STARTUP).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    case_id = engine.start_case(APPLICANT, STARTUP, example["data"], materials).id
    work_all(engine, case_id, example["decisions"])
    return case_id


def outbox_ids(engine: Engine, case_id: int) -> list[str]:
    with engine.db.read() as s:
        query = select(OutboxEvent.event_id).where(OutboxEvent.case_id == case_id).order_by(OutboxEvent.id)
        return list(s.scalars(query))


def drain(deliverer: Deliverer, rounds: int = 500) -> None:
    for _ in range(rounds):
        if deliverer.run_once().claimed == 0:
            return
    raise AssertionError("deliveries kept coming")


def by_case(received: list[Any], case_ids: list[int]) -> dict[int, list[str]]:
    seen: dict[int, list[str]] = {case_id: [] for case_id in case_ids}
    for one in received:
        seen[one.json()["case_id"]].append(one.event_id)
    return seen


def test_the_receiver_sees_each_event_once_in_case_order_and_every_signature_verifies(engine: Engine) -> None:
    with receiving(SECRET) as receiver:
        Webhooks(engine.db, engine.clock).create(ADMIN, receiver.url, secret=SECRET)
        cases = [run_case(engine), run_case(engine)]
        deliverer = Deliverer(engine.db, engine.clock, DeliveryPolicy(concurrency=4))
        try:
            drain(deliverer)
        finally:
            deliverer.close()
        received = receiver.all()
    assert received and all(r.verified for r in received)
    assert all(r.status == 200 for r in received)
    assert len({r.event_id for r in received}) == len(received)  # no event twice
    assert by_case(received, cases) == {case_id: outbox_ids(engine, case_id) for case_id in cases}
    for one in received:  # the body is the event: its id, kind and the case code
        body = one.json()
        assert body["id"] == one.event_id and body["case_code"] and body["kind"]
        assert not verify("another secret of 16+ chars", one.timestamp, one.body, one.signature)
    lags = delivery_lags(engine.db, MONDAY - timedelta(days=1))
    assert len(lags) == len(received) and all(lag >= 0 for lag in lags)

    # Housekeeping forgets what was delivered before the retention, and only that.
    assert purge(engine.db, MONDAY - timedelta(days=1)) == 0
    assert purge(engine.db, MONDAY + timedelta(days=1)) == len(received)
    assert all(outbox_ids(engine, case_id) == [] for case_id in cases)
    assert delivery_lags(engine.db, MONDAY - timedelta(days=1)) == []


def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered_and_replay_delivers(
    engine: Engine, clock: ManualClock
) -> None:
    policy = DeliveryPolicy(max_attempts=4, backoff_seconds=10, backoff_max_seconds=25, concurrency=1)
    webhooks = Webhooks(engine.db, engine.clock)
    with receiving(SECRET) as receiver:
        receiver.status = 500
        subscription = webhooks.create(
            ADMIN, receiver.url, secret=SECRET, kinds=["submitted", "task_created"]
        )
        subscription_id = subscription.subscription.id
        example = dict(engine.bundle_detail(STARTUP).examples[0])
        materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
        case_id = engine.start_case(APPLICANT, STARTUP, example["data"], materials).id
        pending = webhooks.deliveries(ADMIN, subscription_id)
        assert [d.kind for d in pending][:2] == ["submitted", "task_created"]
        head = pending[0]
        deliverer = Deliverer(engine.db, engine.clock, policy)
        try:
            for attempt in range(1, policy.max_attempts + 1):
                tick = deliverer.run_once()
                assert tick.claimed == 1  # only the head of the case's chain, never a later event
                now = webhooks.deliveries(ADMIN, subscription_id)[0]
                assert now.attempts == attempt and now.last_status == 500
                if attempt < policy.max_attempts:
                    assert deliverer.run_once().claimed == 0  # not again before its backoff
                    wait = (now.next_attempt_at - clock.now()).total_seconds()
                    expected = min(25.0, 10.0 * 2 ** (attempt - 1))
                    assert expected / 2 <= wait <= expected

                    clock.advance(timedelta(seconds=wait - 0.001))
                    assert deliverer.run_once().claimed == 0
                    clock.advance(timedelta(seconds=0.002))
            assert webhooks.deliveries(ADMIN, subscription_id)[0].state == DEAD
            assert [r.event_id for r in receiver.all()] == [head.event_id] * policy.max_attempts
            assert all(r.verified for r in receiver.all())
            dead = webhooks.deliveries(ADMIN, subscription_id, state="dead")
            assert [d.id for d in dead] == [head.id]
            assert webhooks.get(ADMIN, subscription_id).dead == 1

            receiver.status = 200  # the receiver is fixed: the rest of the case goes, then the replay
            drain(deliverer)
            later = [d.event_id for d in webhooks.deliveries(ADMIN, subscription_id)[1:]]
            assert [r.event_id for r in receiver.accepted()] == later
            assert webhooks.replay_dead(ADMIN, subscription_id) == 1
            replayed = webhooks.deliveries(ADMIN, subscription_id)[0]
            assert replayed.state == "pending" and replayed.attempts == 0 and replayed.replays == 1
            drain(deliverer)
        finally:
            deliverer.close()
        assert [r.event_id for r in receiver.accepted()] == [*later, head.event_id]
        assert receiver.accepted()[-1].verified
        assert webhooks.deliveries(ADMIN, subscription_id)[0].state == DELIVERED
        again = webhooks.replay(ADMIN, subscription_id, head.id)  # a delivered one can be sent again
        assert again.state == "pending" and again.replays == 2
        # A delivery still owed keeps its event through the housekeeping.
        purge(engine.db, clock.now() + timedelta(days=1))
        assert head.event_id in outbox_ids(engine, case_id)
        assert [d.id for d in webhooks.deliveries(ADMIN, subscription_id)] == [head.id]
    assert case_id


@pytest.mark.postgres
def test_two_workers_on_postgresql_deliver_each_event_exactly_once_in_case_order(
    pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url, tmp_path, ManualClock(MONDAY))
    engine.deployments.deploy_dir(shipped_processes_dir() / STARTUP)
    with receiving(SECRET) as receiver:
        receiver.delay = 0.003  # long enough for the two workers' claims to overlap
        Webhooks(engine.db, engine.clock).create(ADMIN, receiver.url, secret=SECRET)
        Webhooks(engine.db, engine.clock).create(ADMIN, receiver.url + "?second", secret=SECRET)
        cases = [run_case(engine) for _ in range(4)]
        expected = {case_id: outbox_ids(engine, case_id) for case_id in cases}
        total = 2 * sum(len(ids) for ids in expected.values())
        databases = [Database(pg_url), Database(pg_url)]  # two workers: their own connections
        deliverers = [
            Deliverer(db, SystemClock(), DeliveryPolicy(concurrency=3, batch=5)) for db in databases
        ]
        ticks: dict[str, int] = {d.worker_id: 0 for d in deliverers}
        stop = threading.Event()

        def work(deliverer: Deliverer) -> None:
            while not stop.is_set():
                tick = deliverer.run_once()
                ticks[deliverer.worker_id] += tick.delivered
                assert tick.lost == 0

        threads = [threading.Thread(target=work, args=(d,)) for d in deliverers]
        for thread in threads:
            thread.start()
        try:
            receiver.wait_for(lambda r: len(r.accepted()) >= total, timeout=60)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            for deliverer in deliverers:
                deliverer.close()
            for db in databases:
                db.dispose()
        received = receiver.all()
    engine.close()
    assert len(received) == total  # nothing twice: no retry happened, no event sent by both workers
    assert all(r.verified and r.status == 200 for r in received)
    assert all(count > 0 for count in ticks.values()), ticks  # both workers took part
    for path in ("/hook", "/hook?second"):
        assert by_case([r for r in received if r.path == path], cases) == expected
