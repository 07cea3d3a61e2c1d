"""A worker process for fault tests: applies and works cases forever until it is killed.

``python -m tests.support.churn DB_URL DATA_DIR [BUNDLE_DIR]`` — prints ``ready`` once set
up, then one line per finished action, so the test can kill it (SIGKILL) mid-transaction.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.cases.states import Outcome
from engine.service import Engine
from engine.storage.settings import Settings
from engine.time.clock import SystemClock
from tests.support.engines import APPLICANT, MINI_STARTUP, MINI_STARTUP_DECISIONS, TEST_BUNDLES, clerk, upload

DATA = MINI_STARTUP
DECISIONS = MINI_STARTUP_DECISIONS


def main(db_url: str, data_dir: str) -> None:
    """Churn cases of the mini-startup bundle until killed."""
    engine = Engine(Settings(database_url=db_url, data_dir=Path(data_dir)), clock=SystemClock())
    engine.upgrade()
    engine.deployments.deploy_dir(TEST_BUNDLES / "mini-startup")
    material = upload(engine, APPLICANT, "articles_of_association")
    print("ready", flush=True)
    n = 0
    while True:
        case = engine.start_case(APPLICANT, "mini-startup", DATA, {"articles_of_association": material})
        for _ in range(10):
            open_items = [t for t in engine.get_case(APPLICANT, case.id).tasks if t.state == "ready"]
            if not open_items:
                break
            for task in open_items:
                actor = clerk(task.department)
                engine.claim(actor, task.id)
                engine.complete(actor, task.id, Outcome.APPROVE, DECISIONS.get(task.item, {}))
                n += 1
                print(f"action {n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
