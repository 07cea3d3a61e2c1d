"""An Idempotency-Key is honoured across a crash: the work that committed is never done twice.

The work writes what it created into its reservation in its own transaction. A process
killed after that commit but before the answer was stored leaves a reservation naming the
case; the next request with the key answers with that case at once. A reservation is a short
lease its holder renews while it works: a live holder keeps its key, a dead one loses it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, update

from api.idempotency import REPLAYED_HEADER, run_once
from api.schemas.cases import CaseCreate, CasePublic
from api.schemas.tasks import TaskComplete, TaskPublic
from engine.cases.states import Outcome
from engine.demo import demo_pdf
from engine.errors import Conflict, KeyInUse
from engine.service import Engine
from engine.storage.idempotency import (
    DEFAULT_LEASE,
    IdempotencyRecord,
    IdempotencyStore,
    Reservation,
    outcome_id,
)
from engine.storage.models import Case
from engine.time.clock import ManualClock
from tests.api.support import ROOT
from tests.support.crash_apply import KEY, PATH
from tests.support.engines import APPLICANT, MONDAY, clerk, make_engine, upload

BUNDLE = "school-enrollment"


@pytest.fixture
def engine(sqlite_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(sqlite_url, tmp_path, ManualClock(MONDAY))
    engine.deploy_shipped()
    yield engine
    engine.close()


def _body(engine: Engine) -> CaseCreate:
    example = engine.bundle_detail(BUNDLE).example
    materials = {kind: upload(engine, APPLICANT, kind, demo_pdf(kind)) for kind in example["materials"]}
    return CaseCreate(bundle=BUNDLE, data=example["data"], materials=materials)


def _apply(engine: Engine, body: CaseCreate, *, fail_after_commit: bool = False) -> JSONResponse:
    services = cast(Any, SimpleNamespace(engine=engine, idempotency=IdempotencyStore(engine.db)))
    ran: list[int] = []

    def work(reservation: Reservation | None) -> CasePublic:
        view = engine.start_case(APPLICANT, body.bundle, body.data, body.materials, reservation=reservation)
        ran.append(view.id)
        if fail_after_commit:
            raise RuntimeError("the answer could not be built")
        return CasePublic.from_case(view)

    def recover(outcome: str) -> CasePublic:
        case_id = outcome_id(outcome, "case")
        return CasePublic.from_case(engine.get_case(APPLICANT, case_id))

    answer = run_once(services, APPLICANT, KEY, ("POST", PATH, body), 201, work, recover)
    answer.headers["x-test-ran"] = json.dumps(ran)
    return answer


def _cases(engine: Engine) -> list[int]:
    with engine.db.read() as s:
        return list(s.scalars(select(Case.id).order_by(Case.id)))


def test_a_process_killed_after_the_case_committed_leaves_one_case_and_the_key_answers_with_it(
    engine: Engine, sqlite_url: str, tmp_path: Path
) -> None:
    body = _body(engine)
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crash_apply",
            sqlite_url,
            str(tmp_path / "var"),
            body.model_dump_json(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    (created,) = _cases(engine)
    with engine.db.read() as s:
        record = s.scalars(select(IdempotencyRecord)).one()
    assert record.outcome == f"case:{created}" and record.status_code is None

    # The case is recorded: the next request answers with it at once, without waiting out a lease.
    started = time.monotonic()
    recovered = _apply(engine, body)
    assert time.monotonic() - started < 2
    assert recovered.status_code == 201
    assert json.loads(recovered.headers["x-test-ran"]) == []  # the work did not run again
    assert json.loads(bytes(recovered.body))["id"] == created
    assert _cases(engine) == [created]

    replay = _apply(engine, body)
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert bytes(replay.body) == bytes(recovered.body)
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1


def test_work_that_failed_after_its_commit_hands_the_key_on_at_once_to_answer_with_the_case(
    engine: Engine,
) -> None:
    body = _body(engine)
    with pytest.raises(RuntimeError):
        _apply(engine, body, fail_after_commit=True)
    (created,) = _cases(engine)

    # No lease to wait out: the failed holder ended it, and the next request recovers.
    again = _apply(engine, body)
    assert again.status_code == 201 and json.loads(again.headers["x-test-ran"]) == []
    assert json.loads(bytes(again.body))["id"] == created
    assert _cases(engine) == [created]


def test_work_that_failed_before_committing_leaves_nothing_and_a_retry_runs_afresh(engine: Engine) -> None:
    body = _body(engine)
    bad = body.model_copy(update={"data": {}})
    with pytest.raises(Exception, match="问题"):
        _apply(engine, bad)
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    done = _apply(engine, bad.model_copy(update={"data": body.data}))
    assert done.status_code == 201 and len(json.loads(done.headers["x-test-ran"])) == 1


def test_a_decision_committed_before_its_answer_was_stored_is_answered_not_made_twice(engine: Engine) -> None:
    application = _body(engine)
    case = engine.start_case(APPLICANT, BUNDLE, application.data, application.materials)
    task = next(t for t in case.tasks if t.state == "ready")
    actor = clerk(task.department)
    engine.claim(actor, task.id)
    decision = engine.bundle_detail(BUNDLE).examples[0]["decisions"].get(task.item, {})
    body = TaskComplete(outcome=Outcome.APPROVE, data=decision, comment="同意")
    services = cast(Any, SimpleNamespace(engine=engine, idempotency=IdempotencyStore(engine.db)))
    runs: list[int] = []

    def work(reservation: Reservation | None) -> TaskPublic:
        runs.append(
            engine.complete(actor, task.id, body.outcome, body.data, body.comment, reservation=reservation).id
        )
        raise RuntimeError("the answer could not be built")

    def recover(outcome: str) -> TaskPublic:
        return TaskPublic.from_view(engine.get_task(actor, outcome_id(outcome, "task")).task)

    request = ("POST", f"/api/tasks/{task.id}/complete", body)
    with pytest.raises(RuntimeError):
        run_once(services, actor, "decide-once", request, 200, work, recover)
    answer = run_once(services, actor, "decide-once", request, 200, work, recover)
    assert answer.status_code == 200 and runs == [task.id]
    decided = json.loads(bytes(answer.body))
    assert decided["id"] == task.id and decided["state"] == "completed" and decided["outcome"] == "approve"
    approvals = [e for e in engine.get_case(APPLICANT, case.id).timeline if e.kind == "approved"]
    assert [e.work_item_id for e in approvals] == [task.id]


def test_a_holder_whose_lease_was_taken_over_cannot_commit_its_work(engine: Engine) -> None:
    body = _body(engine)
    leases = ManualClock(MONDAY)  # a holder that stopped renewing: its lease runs out on this clock
    store = IdempotencyStore(engine.db, wait=timedelta(0), clock=leases)
    slow = store.reserve(APPLICANT.username, KEY, "digest")
    assert isinstance(slow, Reservation)
    with pytest.raises(KeyInUse) as busy:  # while its lease runs, the key is the holder's
        store.reserve(APPLICANT.username, KEY, "digest")
    assert busy.value.retry_after == DEFAULT_LEASE.total_seconds()
    leases.advance(DEFAULT_LEASE)
    taker = store.reserve(APPLICANT.username, KEY, "digest")
    assert isinstance(taker, Reservation) and taker.outcome is None

    with pytest.raises(Conflict):
        engine.start_case(APPLICANT, body.bundle, body.data, body.materials, reservation=slow)
    assert _cases(engine) == []  # the slow holder's case was rolled back
    created = engine.start_case(APPLICANT, body.bundle, body.data, body.materials, reservation=taker)
    assert _cases(engine) == [created.id]


def test_a_live_holder_keeps_its_key_past_the_lease_and_a_repeat_waits_for_its_answer(engine: Engine) -> None:
    """The holder renews its lease while its work runs; a repeat waits and replays the answer."""
    lease = timedelta(seconds=0.4)
    store = IdempotencyStore(engine.db, lease=lease, wait=timedelta(seconds=3))
    services = cast(Any, SimpleNamespace(engine=engine, idempotency=store))
    release = threading.Event()
    runs: list[str] = []

    def slow(reservation: Reservation | None) -> TaskComplete:
        runs.append("ran")
        assert release.wait(10)
        return TaskComplete(outcome=Outcome.APPROVE, comment="slow")

    request = ("POST", "/api/slow", None)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(run_once, services, APPLICANT, "slow-key", request, 200, slow)
        time.sleep(lease.total_seconds() * 4)  # four leases: only renewals keep the key
        second = pool.submit(run_once, services, APPLICANT, "slow-key", request, 200, slow)
        time.sleep(lease.total_seconds() * 2)
        assert not second.done()  # waiting for the live holder, not taking its key over
        release.set()
        answers = [first.result(10), second.result(10)]
    assert runs == ["ran"]
    assert [a.status_code for a in answers] == [200, 200]
    assert REPLAYED_HEADER not in answers[0].headers and answers[1].headers[REPLAYED_HEADER] == "true"
    assert bytes(answers[0].body) == bytes(answers[1].body)


def test_a_renewal_under_way_never_makes_the_work_fail(engine: Engine) -> None:
    """Renewals and record_outcome both compare-and-set the reservation; a renewal racing the
    work's transaction must not make the work look taken over (the holder's marks cover both)."""
    store = IdempotencyStore(engine.db)
    body = _body(engine)
    reservation = store.reserve(APPLICANT.username, KEY, "digest")
    assert isinstance(reservation, Reservation)
    for _ in range(20):
        assert store.renew(reservation)
    landed = threading.Event()
    proceed = threading.Event()

    def write(marks: tuple[datetime, ...]) -> bool:
        with engine.db.write() as session:
            session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == reservation.record_id, IdempotencyRecord.reserved_at.in_(marks)
                )
                .values(reserved_at=MONDAY)
            )
        landed.set()
        assert proceed.wait(10)
        return True

    renewal = threading.Thread(target=reservation.renew_with, args=(MONDAY, write))
    renewal.start()
    assert landed.wait(10)  # the row holds the new time; the renewal has not told the holder yet
    view = engine.start_case(APPLICANT, body.bundle, body.data, body.materials, reservation=reservation)
    proceed.set()
    renewal.join(10)
    with engine.db.read() as s:
        assert s.scalars(select(IdempotencyRecord.outcome)).one() == f"case:{view.id}"
