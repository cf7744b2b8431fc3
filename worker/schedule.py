"""Periodic jobs: enqueued by whichever worker sees them due first (a Redis key per period), from a
thread of `python -m worker`'s main process (start()), whatever else that worker does."""
from __future__ import annotations

import logging
import threading

from redis import Redis
from rq import Queue

from app.queues import JOBS

log = logging.getLogger("worker.schedule")

# (job, every N seconds)
PERIODIC_JOBS = [
    ("worker.jobs.tracking.delete_expired_anonymous_events", 3600),
    ("worker.jobs.messages.start_due_campaigns", 60),
    ("worker.jobs.segments.evaluate_all_segments", 900),
    ("worker.jobs.automations.wake_due_runs", 60),
    ("worker.jobs.automations.start_date_runs", 300),
    ("worker.jobs.webhooks.retry_stalled_webhooks", 300),
    ("worker.jobs.tracking.ensure_page_view_partitions", 3600),
    ("worker.jobs.contacts.fail_stalled_imports", 60),
    ("worker.jobs.api.forget_old_idempotent_answers", 3600),
    ("worker.jobs.webhooks.forget_old_deliveries", 3600),
]
TICK_SECONDS = 1.0


def enqueue_due_jobs(redis) -> list[str]:
    """Enqueue each job whose period began since it was last enqueued, by any worker: the first
    to set the period's key (SET NX, expiring with the period) enqueues it, the others do not."""
    enqueued = []
    for job, every in PERIODIC_JOBS:
        if redis.set(f"footfall:periodic:{job}", 1, nx=True, ex=every):
            Queue(JOBS[job].queue, connection=redis).enqueue(job)  # (no app context: no config needed)
            enqueued.append(job)
    return enqueued


class Scheduler(threading.Thread):
    """Every second, the periodic jobs that are due. A thread of its own, with its own Redis client,
    so that a long job the worker runs never delays them; it needs no database."""

    def __init__(self, redis_url: str):
        super().__init__(name="periodic-jobs", daemon=True)
        self.redis = Redis.from_url(redis_url, socket_timeout=10)
        self.stopping = threading.Event()

    def run(self) -> None:
        failing = False
        while not self.stopping.is_set():
            try:
                enqueue_due_jobs(self.redis)
            except Exception as error:  # Redis away: try again in a second
                # One line an outage (the traceback at LOG_LEVEL=info), not one a second.
                if not failing:
                    text = str(error).strip()
                    log.error("enqueuing the periodic jobs failed, retrying every second: %s: %s",
                              type(error).__name__, text.splitlines()[0][:300] if text else "",
                              exc_info=log.isEnabledFor(logging.INFO))
                failing = True
            else:
                if failing:
                    log.warning("enqueuing the periodic jobs works again")
                    failing = False
            self.stopping.wait(TICK_SECONDS)

    def stop(self, timeout: float = 15) -> None:
        self.stopping.set()
        self.join(timeout)
        self.redis.close()


def start(redis_url: str) -> Scheduler:
    scheduler = Scheduler(redis_url)
    scheduler.start()
    return scheduler
