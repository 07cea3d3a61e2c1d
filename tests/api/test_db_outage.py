"""A PostgreSQL outage is a 503 with Retry-After, never a 500; a retried decision is made once (finding 13).

Each test runs its own throwaway cluster (stopping the session's shared one would break other
tests) and a real ``onething serve`` on it. The database goes down with ``pg_ctl stop -m immediate``
(what a crash or an immediate restart does to the server's connections), at three moments of a
completion sent with an ``Idempotency-Key``: before the request, after the key was reserved and
before the work committed, and after the work committed and before its answer was stored (the
last two through ``tests.support.crash_server``). ``pg_ctl restart`` brings it back
with its options; the client then retries with the same key as ``Retry-After`` says.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import create_engine
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import RequestContext
from tests.api.support import ServeProcess, start_serve
from tests.api.test_idempotency_crash import CLERK, approvals, claimed_task, signed_in
from tests.support.crash_server import start_crash_server
from tests.support.pg import PgCluster, find_pg_bin, free_port, start_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RETRY_WITHIN = 10.0


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A cluster of this test's own, to stop and restart at will."""
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries not found (install postgresql-15)")
    own = start_cluster()
    yield own
    own.stop()


def durable_database(cluster: PgCluster) -> str:
    """A new database whose commits are on disk when they return (the cluster runs with
    ``synchronous_commit=off`` for speed, and an immediate stop would lose the last ones)."""
    url = cluster.create_database()
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = connection.exec_driver_sql("SELECT current_database()").scalar_one()
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = on')
    finally:
        admin.dispose()
    return url


def pg_ctl(cluster: PgCluster, *args: str) -> list[str]:
    """``pg_ctl`` on the cluster's data folder (``cluster.run`` adds the postgres user when root)."""
    return [str(cluster.bin / "pg_ctl"), "-D", str(cluster.datadir), *args]


def stop_now(cluster: PgCluster) -> list[str]:
    """The whole argv that stops the server at once: every connection is cut, nothing shut down cleanly."""
    return [*cluster.as_user, *pg_ctl(cluster, "-m", "immediate", "stop")]


def restart(cluster: PgCluster) -> None:
    """``pg_ctl restart -m immediate``: a running server is cut off and started again; a stopped one
    starts again with the options it had."""
    log = str(cluster.datadir.parent / "log")
    cluster.run(*pg_ctl(cluster, "-m", "immediate", "-l", log, "-w", "-t", "60", "restart"))


def complete(
    client: httpx.Client, task: dict[str, Any], decision: dict[str, Any], key: str
) -> httpx.Response:
    """The completion, sent with its Idempotency-Key."""
    keyed = {"Idempotency-Key": key}
    return client.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=keyed)


def retry_until_answered(
    client: httpx.Client, task: dict[str, Any], decision: dict[str, Any], key: str
) -> tuple[httpx.Response, float]:
    """Send the completion again, waiting as each 503's Retry-After says; the answer and the time taken."""
    started = time.monotonic()
    while True:
        answer = complete(client, task, decision, key)
        assert answer.status_code != 500, answer.text
        if answer.status_code != 503 or time.monotonic() - started > RETRY_WITHIN:
            return answer, time.monotonic() - started
        time.sleep(min(float(answer.headers["Retry-After"]), 1.0))


def assert_unavailable(answer: httpx.Response) -> None:
    """A 503 that says when to come back, and no internals."""
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert "request_id" in answer.json() and "Traceback" not in answer.text


def assert_decided_once(served: ServeProcess, answer: httpx.Response, task: dict[str, Any]) -> dict[str, Any]:
    """The answer is the approved task, and the trail approves it once."""
    assert answer.status_code == 200, answer.text
    done: dict[str, Any] = answer.json()
    assert (done["id"], done["state"], done["outcome"]) == (task["id"], "completed", "approve")
    assert approvals(served, task["case_id"], task["id"]) == 1
    return done


def test_a_database_down_before_a_decision_answers_503_and_the_retry_decides_once(
    cluster: PgCluster, tmp_path: Path
) -> None:
    served = start_serve(durable_database(cluster), tmp_path, tmp_path / "serve.log", "--demo")
    try:
        task, decision = claimed_task(served)
        # A real immediate restart while the server idles: its pooled connections are all dead.
        restart(cluster)
        with signed_in(served, CLERK) as clerk:
            subprocess.run(stop_now(cluster), check=True, capture_output=True, timeout=60)
            assert_unavailable(complete(clerk, task, decision, "decide-after-outage"))
            restart(cluster)
            answer, took = retry_until_answered(clerk, task, decision, "decide-after-outage")
            print(f"answered {answer.status_code} {took:.2f}s after the database came back")
            assert took < RETRY_WITHIN
            assert_decided_once(served, answer, task)
    finally:
        served.stop()


@pytest.mark.parametrize("step", ["reserved", "worked"])
def test_a_database_lost_during_a_decision_never_answers_500_and_the_retry_answers_what_was_done(
    cluster: PgCluster, tmp_path: Path, step: str
) -> None:
    crash = f"{step}:stop-db"
    env = {"ONETHING_TEST_STOP_DB": json.dumps(stop_now(cluster))}
    served = start_crash_server(durable_database(cluster), tmp_path, tmp_path / "serve.log", crash, env)
    try:
        task, decision = claimed_task(served)
        with signed_in(served, CLERK) as clerk:
            first = complete(clerk, task, decision, f"decide-{step}")  # the database stops at `step`
            if step == "reserved":
                assert_unavailable(first)  # nothing was done
            else:
                # The decision committed before the database went: the answer says so.
                assert first.status_code == 200, first.text
            restart(cluster)
            answer, took = retry_until_answered(clerk, task, decision, f"decide-{step}")
            print(f"outage at {step!r}: first {first.status_code}, retry {answer.status_code} in {took:.2f}s")
            assert took < RETRY_WITHIN
            done = assert_decided_once(served, answer, task)
            if step == "worked":
                assert done == first.json()
    finally:
        served.stop()


def test_an_outage_that_escapes_the_handlers_is_a_503_from_the_last_resort() -> None:
    """RequestContext answers a database outage surfacing outside the routes' handlers with 503, not 500."""
    refused = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")

    async def reads_a_database_that_is_down(scope: Scope, receive: Receive, send: Send) -> None:
        refused.connect()  # nothing listens there: psycopg's real "connection refused"

    async def fails(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug, not an outage")

    async def post(app: ASGIApp) -> httpx.Response:
        transport = httpx.ASGITransport(app=RequestContext(app, upload_limit=1024))
        async with httpx.AsyncClient(transport=transport, base_url="http://onething") as client:
            return await client.post("/api/anything", json={})

    try:
        outage = anyio.run(post, reads_a_database_that_is_down)
    finally:
        refused.dispose()
    assert_unavailable(outage)
    bug = anyio.run(post, fails)
    assert bug.status_code == 500 and "Retry-After" not in bug.headers  # a bug is no outage
