"""``onething serve --workers N``: N web processes behind one listening address, one timer worker.

One Python process runs one request's engine work at a time (the GIL), so a server with
several cores, or one whose requests wait on PostgreSQL, serves more with more processes.
``--workers N`` asks uvicorn's own supervisor to bind the address once and start N worker
processes that accept from that one socket; a worker that dies is replaced, SIGTERM or
SIGINT stops them all (each finishes its requests first), SIGHUP replaces them one by one.

The supervising process (the one ``onething serve`` started) has already brought the
schema up to date, deployed the shipped bundles, made the demo accounts and the token
signing key before any worker starts, so the workers only open the database. It also runs
the timer worker (``api.worker``) itself: once per ``serve``, however many web workers.
Its webhook sender is woken by its own commits only, so deliveries queued by a web worker
leave within ``webhook_poll_seconds``.

Workers are spawned afresh (not forked) and read the same ``ONETHING_*`` environment as
the supervisor; ``--db`` reaches them as ``ONETHING_DATABASE_URL``. What they share is the
database (PostgreSQL for real use: SQLite serializes every write anyway) and the data
folder; each keeps its own caches, whose entries are checked against the database before
use (``engine.cases.store.WorkflowCache``: the case row's ``state_version``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.heap import settle_heap
from api.logs import configure_logging
from engine.service import Engine
from engine.storage.settings import Settings

WORKER_APP = "api.serving:worker_app"
# The line each web process says once it serves (tests and benchmarks wait for all of them).
READY_LINE = "web process ready"
# The event loop and HTTP parser of every web process: libuv's loop and the C parser cost
# less CPU per request than asyncio's loop and the pure-Python h11 (``make bench``: bench_http).
LOOP = "uvloop"
HTTP = "httptools"
# How the supervisor's ``--log-level`` reaches the web processes it spawns (a logging level number).
LOG_LEVEL_ENV = "ONETHING_SERVE_LOG_LEVEL"
log = logging.getLogger("onething.serve")
DATABASE_ENV = "ONETHING_DATABASE_URL"
# How long a web process may take to answer the supervisor's ping before it is replaced.
# uvicorn's 5 s default killed workers still starting on a loaded machine (a spawned worker
# imports the whole app first), over and over, so that only one of them ever served.
WORKER_HEALTHCHECK_SECONDS = 60


def worker_app() -> FastAPI:
    """The app of one web worker (uvicorn calls this in each worker process).

    Its engine opens the database the supervisor prepared and is closed when the worker stops.
    """
    configure_logging(int(os.environ.get(LOG_LEVEL_ENV, logging.INFO)))
    settings = Settings()
    engine = Engine(settings)
    app = create_app(settings, engine)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        try:
            async with inner(served):
                settle_heap()
                log.info(READY_LINE)
                yield
        finally:
            engine.close()

    app.router.lifespan_context = lifespan
    return app


def serve_workers(
    settings: Settings, host: str, port: int, workers: int, log_level: int = logging.INFO
) -> None:
    """Serve ``settings``' database on ``host:port`` with ``workers`` web processes, until stopped.

    The web processes log at the supervisor's ``log_level`` (``--log-level``).
    """
    if workers < 2:
        raise ValueError("serve_workers starts two or more processes; one is plain uvicorn.run")
    os.environ[DATABASE_ENV] = settings.database_url
    os.environ[LOG_LEVEL_ENV] = str(log_level)
    uvicorn.run(
        WORKER_APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=LOOP,
        http=HTTP,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
