"""The worker of ``onething serve`` and ``onething worker``: timers, SLA escalation, old idempotency keys,
and the webhooks of the outbox.

Each tick runs ``engine.worker.Worker.run_once`` (fire due BPMN timers, run the SLA clock,
send late rectifications to the supervisors), then forgets idempotency keys past their
retention. ``onething serve`` runs the loop in a thread beside the web app; ``onething
worker`` runs it alone. Any number of workers may share one database: each timer fires
exactly once (in the case's own locked transaction) and each escalation is a conditional
update, so extra workers only share the load.

Beside the tick loop, a second thread delivers the outbox's webhooks
(``engine.integration.delivery``) unless ``webhook_delivery`` is off: it sends whatever is
due, then waits for a commit in this process that queued deliveries (``outbox.wakeup``) or
for the poll interval, whichever comes first. Its HTTP waits never hold up a timer.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from engine.integration import outbox
from engine.integration.delivery import Deliverer, DeliveryPolicy
from engine.integration.delivery import purge as purge_outbox
from engine.service import Engine
from engine.storage.idempotency import DEFAULT_RETENTION, IdempotencyStore
from engine.worker import Worker, WorkerTick

log = logging.getLogger(__name__)
BATCH = 100
PURGE_EVERY = timedelta(minutes=10)


class DeliveryWorker:
    """Sends due webhook deliveries until stopped (see the module docstring)."""

    def __init__(self, engine: Engine, stop: threading.Event) -> None:
        settings = engine.settings
        self.deliverer = Deliverer(engine.db, engine.clock, DeliveryPolicy.from_settings(settings))
        self.poll = settings.webhook_poll_seconds
        self.stop_event = stop

    def run_forever(self) -> None:
        """Deliver, and wait for new deliveries when none is due; a failing round is logged."""
        try:
            while not self.stop_event.is_set():
                claimed = 0
                try:
                    claimed = self.deliverer.run_once().claimed
                except Exception:
                    log.exception("webhook delivery round failed; retrying in %ss", self.poll)
                if not claimed:
                    outbox.wakeup.wait(self.poll)
                    outbox.wakeup.clear()
        finally:
            self.deliverer.close()


class TimerWorker:
    """A loop that runs a worker tick every ``interval`` seconds until stopped (and, beside it, delivery)."""

    def __init__(self, engine: Engine, interval: float, stop: threading.Event | None = None) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.engine = engine
        self.interval = interval
        self.stop_event = stop or threading.Event()
        self.worker = Worker(engine, timer_batch=BATCH)
        self._idempotency = IdempotencyStore(engine.db)
        self._last_purge = engine.clock.now() - PURGE_EVERY
        self._thread: threading.Thread | None = None
        self._delivery_thread: threading.Thread | None = None

    def run_once(self) -> WorkerTick:
        """One tick: timers, SLA sweep, late rectifications; now and then, housekeeping:
        temporary files of uploads a crash cut short, expired idempotency keys, and outbox
        events delivered longer ago than ``webhook_retention_days``."""
        tick = self.worker.run_once()
        now = self.engine.clock.now()
        if now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            swept = self.engine.materials.store.sweep_temp()
            if swept:
                log.info(
                    "removed %d unfinished upload(s)",
                    swept,
                    extra={"event": {"event": "worker.sweep_uploads", "count": swept}},
                )
            purged = self._idempotency.purge(now - DEFAULT_RETENTION)
            if purged:
                log.info(
                    "forgot %d idempotency keys",
                    purged,
                    extra={"event": {"event": "worker.purge", "count": purged}},
                )
            retention = timedelta(days=self.engine.settings.webhook_retention_days)
            forgotten = purge_outbox(self.engine.db, now - retention)
            if forgotten:
                log.info(
                    "forgot %d delivered outbox events",
                    forgotten,
                    extra={"event": {"event": "worker.purge_outbox", "count": forgotten}},
                )
        if tick.timers_fired or tick.sla.total or tick.rectifications_overdue or tick.reviewed:
            log.info(
                "worker tick: %d timer(s), %d overdue, %d escalated, %d document(s) pre-reviewed",
                tick.timers_fired,
                tick.sla.overdue,
                tick.sla.escalated,
                tick.reviewed,
                extra={
                    "event": {
                        "event": "worker.tick",
                        "fired": tick.timers_fired,
                        "overdue": tick.sla.overdue,
                        "escalated": tick.sla.escalated,
                        "warned": tick.sla.warned,
                        "rectifications_overdue": tick.rectifications_overdue,
                        "reviewed": tick.reviewed,
                        "projected": tick.projected,
                    }
                },
            )
        return tick

    def run_forever(self) -> None:
        """Tick until ``stop()``; a failing tick is logged and retried on the next one.

        The webhook delivery thread runs as long as this loop does.
        """
        log.info("timer worker started (every %ss)", self.interval)
        if self.engine.settings.webhook_delivery:
            delivery = DeliveryWorker(self.engine, self.stop_event)
            self._delivery_thread = threading.Thread(
                target=delivery.run_forever, name="onething-webhooks", daemon=True
            )
            self._delivery_thread.start()
        try:
            while not self.stop_event.is_set():
                busy = False
                try:
                    tick = self.run_once()
                    busy = tick.busy and not tick.errors
                except Exception:
                    log.exception("worker tick failed; retrying in %ss", self.interval)
                if not busy:
                    self.stop_event.wait(self.interval)
        finally:
            outbox.wakeup.set()  # the delivery thread sees the stop at once
            if self._delivery_thread is not None:
                self._delivery_thread.join(self.engine.settings.webhook_timeout_seconds + 5)
        log.info("timer worker stopped")

    def start(self) -> threading.Thread:
        """Run the loop in a daemon thread (beside the web app)."""
        thread = threading.Thread(target=self.run_forever, name="onething-timers", daemon=True)
        thread.start()
        self._thread = thread
        return thread

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for the running tick to finish."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)


def start_timer_worker(engine: Engine, interval: float | None = None) -> TimerWorker:
    """Start the worker thread for ``engine`` (``serve`` calls this; ``create_app`` never does)."""
    worker = TimerWorker(engine, interval if interval is not None else engine.settings.worker_interval)
    worker.start()
    return worker
