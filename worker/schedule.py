"""Periodic jobs: enqueued by whichever worker sees them due first (a Redis key per period)."""
from __future__ import annotations

from app.queues import PERIODIC, get_queue

# (job, every N seconds)
PERIODIC_JOBS = [
    ("worker.jobs.tracking.delete_expired_anonymous_events", 3600),
    ("worker.jobs.messages.start_due_campaigns", 60),
    ("worker.jobs.segments.evaluate_all_segments", 900),
    ("worker.jobs.automations.wake_due_runs", 60),
    ("worker.jobs.tracking.ensure_page_view_partitions", 3600),
    ("worker.jobs.contacts.fail_stalled_imports", 60),
]


def enqueue_due_jobs(redis) -> list[str]:
    enqueued = []
    for job, every in PERIODIC_JOBS:
        if redis.set(f"footfall:periodic:{job}", 1, nx=True, ex=every):
            get_queue(PERIODIC).enqueue(job)
            enqueued.append(job)
    return enqueued
