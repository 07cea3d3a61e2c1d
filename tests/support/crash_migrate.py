"""A process that runs a migration and SIGKILLs itself inside the transaction of its Nth case.

Run as ``python -m tests.support.crash_migrate DATABASE_URL DATA_DIR PLAN_ID N``. The kill lands
after the Nth case's workflow was replayed and its rows changed, before its commit: what a
power cut in the middle of a run leaves.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from engine.cases import migrations
from engine.cases.migration_plans import CaseFilter
from engine.service import Engine
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, MONDAY


def main(database_url: str, data_dir: str, plan_id: str, nth: str) -> None:
    """Start a run of the plan; die inside the Nth case's transaction."""
    engine = Engine(Settings(database_url=database_url, data_dir=Path(data_dir)), clock=ManualClock(MONDAY))
    calls = 0
    module = vars(migrations)  # the module's own names: the spine's ``emit`` as it imported it
    real = module["emit"]

    def emit_then_die(session: Any, event: Any) -> None:
        nonlocal calls
        real(session, event)
        if type(event).__name__ == "CaseMigrated":
            calls += 1
            if calls == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)

    module["emit"] = emit_then_die
    engine.start_migration_run(ANALYST, "enterprise-startup", int(plan_id), CaseFilter(), batch_size=7)


if __name__ == "__main__":
    main(*sys.argv[1:5])
