"""A process that applies with an Idempotency-Key and dies (SIGKILL) right after the case commits.

Run as ``python -m tests.support.crash_apply DATABASE_URL DATA_DIR BODY_JSON``. It goes through
the API's own ``run_once`` with the engine's real ``start_case``; the kill lands in the window
between the work's commit and the storing of the answer, which is what a crash there leaves.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from api.idempotency import run_once
from api.schemas.cases import CaseCreate, CasePublic
from engine.service import Engine
from engine.storage.idempotency import IdempotencyStore, Reservation
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.support.engines import APPLICANT, MONDAY

KEY = "crash-key"
PATH = "/api/cases"


def main(database_url: str, data_dir: str, body_json: str) -> None:
    """Apply once, then die before the answer is stored."""
    engine = Engine(Settings(database_url=database_url, data_dir=Path(data_dir)), clock=ManualClock(MONDAY))
    body = CaseCreate.model_validate(json.loads(body_json))
    services = cast(Any, SimpleNamespace(engine=engine, idempotency=IdempotencyStore(engine.db)))

    def work(reservation: Reservation | None) -> CasePublic:
        engine.start_case(APPLICANT, body.bundle, body.data, body.materials, reservation=reservation)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable: the process was killed")

    def recover(outcome: str) -> CasePublic:
        raise AssertionError(f"a first request has nothing to recover ({outcome})")

    run_once(services, APPLICANT, KEY, ("POST", PATH, body), 201, work, recover)


if __name__ == "__main__":
    main(*sys.argv[1:4])
