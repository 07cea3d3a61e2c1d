"""``onething serve`` that crashes at a named step of its first request with an ``Idempotency-Key``.

Run as ``python -m tests.support.crash_server serve ARGS...`` (the CLI's own arguments) with
``ONETHING_TEST_CRASH=STEP:ACTION`` in the environment. STEP is ``reserved`` (the key was
reserved, the work not begun) or ``worked`` (the work committed, its answer about to be
stored). ACTION is ``kill`` (the process SIGKILLs itself, as an OOM killer or a power cut
would) or ``stop-db`` (it runs the command in ``ONETHING_TEST_STOP_DB``, a JSON argv that stops
the test's own PostgreSQL cluster, and goes on with the request). It fires once; every later
request runs normally.

The steps are the idempotency store's own calls, wrapped in this process only: ``reserve``
returning a fresh reservation, and ``finish`` about to store an answer. The product carries no
crash hook, and the same launcher runs against older code to show what it did.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.support import ROOT, ServeProcess, free_port, serving

STEPS = ("reserved", "worked")
ACTIONS = ("kill", "stop-db")


def install(crash: str) -> None:
    """Make the idempotency store do ACTION at STEP (``crash`` is ``STEP:ACTION``), once."""
    from engine.storage.idempotency import IdempotencyStore, Reservation

    step, _, action = crash.partition(":")
    if step not in STEPS or action not in ACTIONS:
        raise SystemExit(f"ONETHING_TEST_CRASH must be STEP:ACTION with STEP in {STEPS}, ACTION in {ACTIONS}")
    fired = threading.Lock()

    def crash_now() -> None:
        if not fired.acquire(blocking=False):
            return
        print(f"crash_server: {action} at {step}", file=sys.stderr, flush=True)
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        subprocess.run(json.loads(os.environ["ONETHING_TEST_STOP_DB"]), check=True, timeout=60)

    def after_reserve(reserve: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(reserve)
        def reserved(*args: Any, **kwargs: Any) -> Any:
            got = reserve(*args, **kwargs)
            if isinstance(got, Reservation) and got.outcome is None:  # the work is about to run
                crash_now()
            return got

        return reserved

    def before_finish(finish: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(finish)
        def finishing(*args: Any, **kwargs: Any) -> Any:
            crash_now()
            return finish(*args, **kwargs)

        return finishing

    if step == "reserved":
        IdempotencyStore.reserve = after_reserve(IdempotencyStore.reserve)  # type: ignore[method-assign]
    else:
        IdempotencyStore.finish = before_finish(IdempotencyStore.finish)  # type: ignore[method-assign]


def start_crash_server(
    db_url: str, data_dir: Path, log_path: Path, crash: str, env: dict[str, str] | None = None
) -> ServeProcess:
    """``onething serve --demo`` through this launcher on a free port; returns once ``/healthz`` answers."""
    port = free_port()
    environment = {
        **os.environ,
        "ONETHING_DATA_DIR": str(data_dir),
        "ONETHING_TEST_CRASH": crash,
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    command = [sys.executable, "-m", "tests.support.crash_server", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--db", db_url, "--demo"]
    with log_path.open("wb") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=environment, cwd=ROOT
        )
    return serving(ServeProcess(process, f"http://127.0.0.1:{port}", log_path), "crash server")


if __name__ == "__main__":
    install(os.environ["ONETHING_TEST_CRASH"])
    from api.cli import main

    sys.exit(main(sys.argv[1:]))
