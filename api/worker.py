"""The timer worker: fires due BPMN timers and SLA escalations, and forgets old idempotency keys.

``onething serve`` runs it in a thread beside the web app; ``onething worker`` runs it
alone. Any number of workers may share one database: the engine fires each timer exactly
once (in the case's own locked transaction), so extra workers only share the load.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from engine.idempotency import DEFAULT_RETENTION, IdempotencyStore
from engine.service import Engine

log = logging.getLogger(__name__)
BATCH = 100
PURGE_EVERY = timedelta(minutes=10)


class TimerWorker:
    """A loop that sweeps due timers every ``interval`` seconds until stopped."""

    def __init__(self, engine: Engine, interval: float, stop: threading.Event | None = None) -> None:
        self.engine = engine
        self.interval = interval
        self.stop_event = stop or threading.Event()
        self._idempotency = IdempotencyStore(engine.db)
        self._last_purge = engine.clock.now() - PURGE_EVERY
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One sweep: fire every due timer (in batches) and purge expired keys; how many fired."""
        fired = 0
        while not self.stop_event.is_set():
            count = self.engine.fire_due_timers(limit=BATCH)
            fired += count
            if count < BATCH:
                break
        now = self.engine.clock.now()
        if now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            purged = self._idempotency.purge(now - DEFAULT_RETENTION)
            if purged:
                log.info(
                    "forgot %d idempotency keys",
                    purged,
                    extra={"event": {"event": "worker.purge", "count": purged}},
                )
        if fired:
            log.info("fired %d timers", fired, extra={"event": {"event": "worker.timers", "fired": fired}})
        return fired

    def run_forever(self) -> None:
        """Sweep until ``stop()``; a failing sweep is logged and retried on the next tick."""
        log.info("timer worker started (every %ss)", self.interval)
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("timer sweep failed; retrying in %ss", self.interval)
            self.stop_event.wait(self.interval)
        log.info("timer worker stopped")

    def start(self) -> threading.Thread:
        """Run the loop in a daemon thread (beside the web app)."""
        thread = threading.Thread(target=self.run_forever, name="onething-timers", daemon=True)
        thread.start()
        self._thread = thread
        return thread

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for the running sweep to finish."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)


def start_timer_worker(engine: Engine, interval: float | None = None) -> TimerWorker:
    """Start the timer worker thread for ``engine`` (``serve`` calls this; ``create_app`` never does)."""
    worker = TimerWorker(engine, interval if interval is not None else engine.settings.worker_interval)
    worker.start()
    return worker
