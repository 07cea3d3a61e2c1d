"""A real ``onething worker`` SIGKILLed while it reads a document: the review is read again after its lease.

The worker process claims the pending review and starts the OCR; it is killed (as an OOM killer
or a power cut would) before it stores anything. The review stays pending with the dead
worker's claim; once the lease has run out, the next worker's tick takes it and stores it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.storage.review_tables import MaterialReview
from engine.time.clock import ManualClock
from tests.review.support import licence_engine, upload_licence
from tests.support.engines import APPLICANT

ROOT = Path(__file__).resolve().parents[2]


def test_a_review_whose_worker_was_killed_mid_read_is_read_again(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'onething.db'}"
    engine = licence_engine(db_url, tmp_path, ManualClock(datetime.now(UTC)))
    material = upload_licence(engine, APPLICANT.username)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from api.cli import main; sys.exit(main())",
            "worker",
            "--db",
            db_url,
        ],
        cwd=ROOT,
        env={**os.environ, "ONETHING_DATA_DIR": str(tmp_path / "var")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            with engine.db.read() as session:
                row = session.get(MaterialReview, material)
            assert row is not None
            if row.claimed_at is not None:
                break
            assert worker.poll() is None and time.monotonic() < deadline, (
                "the worker never claimed the review"
            )
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)  # mid-read: the OCR takes a second or more
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)
    with engine.db.read() as session:
        left = session.get(MaterialReview, material)
    assert left is not None and left.status == "pending" and left.claimed_by is not None
    assert engine.run_review_jobs() == 0  # the dead worker's lease still holds
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    assert left.claimed_at is not None
    clock.advance(left.claimed_at + engine.pre_review.lease + timedelta(seconds=1) - clock.now())
    assert engine.run_review_jobs() == 1
    with engine.db.read() as session:
        done = session.get(MaterialReview, material)
    assert done is not None and done.status == "done" and done.attempts == 2 and done.fields
