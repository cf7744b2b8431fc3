"""Queue names, the Redis connection and the one helper through which the app enqueues jobs.

The app names jobs by dotted path ("worker.jobs.messages.deliver_email") so that app/ never imports
worker/ (docs/architecture.md, convention 8).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app
from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from app.extensions import after_commit, per_app

INGEST = "ingest"
MESSAGES = "messages"
DEFAULT = "default"
PERIODIC = "periodic"

# The order in which a worker serves the queues: most urgent first.
PRIORITY = (INGEST, MESSAGES, DEFAULT, PERIODIC)


def get_redis() -> Redis:
    """The app's Redis client, made on first use from REDIS_URL."""
    return per_app("footfall.redis", lambda: Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=10))


def get_queue(name: str) -> Queue:
    return Queue(name, connection=get_redis())


def pending_jobs(job_ids: list[str]) -> set[str]:
    """Which of these jobs are still to run or running (queued, scheduled for a retry, deferred, or
    started less than their timeout ago), as opposed to finished, failed for good, or lost: a job
    started longer ago than its timeout was killed by then, or its worker lost it (Redis went away
    as it ran) and it waits for RQ's clean-up."""
    jobs = Job.fetch_many(job_ids, connection=get_redis()) if job_ids else []
    waiting = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
    now = datetime.now(timezone.utc)
    return {job.id for job in jobs if job is not None and (
        job.get_status(refresh=False) in waiting
        or (job.get_status(refresh=False) == JobStatus.STARTED and job.started_at is not None
            and now - job.started_at.replace(tzinfo=timezone.utc) < timedelta(seconds=(job.timeout or 180) + 10)))}


def enqueue(job: str, *args, queue: str = DEFAULT, retries: int = 0,
            retry_intervals: list[int] | None = None, job_id: str | None = None, job_timeout: int | None = None):
    """Enqueue the job named by its dotted path; retries are bounded and spaced by RQ."""
    retry = Retry(max=retries, interval=retry_intervals or 0) if retries else None
    return get_queue(queue).enqueue(job, *args, retry=retry, job_id=job_id, job_timeout=job_timeout)


def retries_from(setting: str) -> dict:
    """enqueue() options retrying a job after each delay (seconds) listed in a setting such as
    MAIL_RETRY_DELAYS: as many retries as delays."""
    delays = current_app.config[setting]
    return {"retries": len(delays), "retry_intervals": delays}


def enqueue_after_commit(session, job: str, *args, **options) -> None:
    """Enqueue once the session commits, so the job finds the rows it is given ids of."""
    after_commit(session, enqueue, job, *args, **options)
