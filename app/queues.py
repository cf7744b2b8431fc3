"""Queue names, the Redis connection and the one helper through which the app enqueues jobs.

The app names jobs by dotted path ("worker.jobs.messages.deliver_email") so that app/ never imports
worker/ (docs/architecture.md, convention 8).
"""
from __future__ import annotations

from dataclasses import dataclass
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
    return per_app("footfall.redis",
                   lambda: Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=10))


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
            and now - job.started_at.replace(tzinfo=timezone.utc)
            < timedelta(seconds=(job.timeout or 180) + 10)))}


@dataclass(frozen=True)
class JobSpec:
    """What a job needs of the queues: its queue, the setting listing the seconds between its
    attempts (as many retries as delays; none without it), and the setting of its time limit in
    seconds (without it, RQ's 180 s)."""

    queue: str = DEFAULT
    retry_delays: str = ""
    timeout: str = ""


# Every job the app enqueues, declared once: callers name the job only. The functions are in
# worker/jobs/ (named by dotted path: the app never imports worker/, docs/architecture.md), so
# what each needs of the queues is declared here, beside its name.
JOBS = {
    "worker.jobs.accounts.send_password_reset": JobSpec(),
    "worker.jobs.contacts.import_contacts": JobSpec(timeout="IMPORT_JOB_TIMEOUT"),
    "worker.jobs.segments.evaluate_segment": JobSpec(),
    "worker.jobs.segments.update_for_contacts": JobSpec(),
    "worker.jobs.tracking.check_installation": JobSpec(),
    "worker.jobs.messages.deliver_email": JobSpec(MESSAGES, retry_delays="MAIL_RETRY_DELAYS"),
    "worker.jobs.sms.deliver_sms": JobSpec(MESSAGES, retry_delays="SMS_RETRY_DELAYS"),
    # A campaign's jobs are retried as its channel's deliveries are: through a mail server,
    # provider or database outage of several minutes; one running past MESSAGE_JOB_TIMEOUT is
    # stopped (its retry goes on from where it stopped).
    "worker.jobs.messages.start_campaign": JobSpec(MESSAGES, "MAIL_RETRY_DELAYS", "MESSAGE_JOB_TIMEOUT"),
    "worker.jobs.messages.send_email_batch": JobSpec(MESSAGES, "MAIL_RETRY_DELAYS", "MESSAGE_JOB_TIMEOUT"),
    "worker.jobs.sms.start_campaign": JobSpec(MESSAGES, "SMS_RETRY_DELAYS", "MESSAGE_JOB_TIMEOUT"),
    "worker.jobs.messages.send_sms_batch": JobSpec(MESSAGES, "SMS_RETRY_DELAYS", "MESSAGE_JOB_TIMEOUT"),
    "worker.jobs.automations.advance_run": JobSpec(MESSAGES),
    # (Not on the messages queue: a slow receiver must not hold up email and SMS.)
    "worker.jobs.webhooks.deliver_webhook": JobSpec(DEFAULT, retry_delays="WEBHOOK_RETRY_DELAYS"),
    # The periodic jobs (worker/schedule.py says when).
    "worker.jobs.tracking.delete_expired_anonymous_events": JobSpec(PERIODIC),
    "worker.jobs.messages.start_due_campaigns": JobSpec(PERIODIC),
    "worker.jobs.segments.evaluate_all_segments": JobSpec(PERIODIC),
    "worker.jobs.automations.wake_due_runs": JobSpec(PERIODIC),
    "worker.jobs.automations.start_date_runs": JobSpec(PERIODIC),
    "worker.jobs.webhooks.retry_stalled_webhooks": JobSpec(PERIODIC),
    "worker.jobs.tracking.ensure_page_view_partitions": JobSpec(PERIODIC),
    "worker.jobs.contacts.fail_stalled_imports": JobSpec(PERIODIC),
    "worker.jobs.api.forget_old_idempotent_answers": JobSpec(PERIODIC),
    "worker.jobs.webhooks.forget_old_deliveries": JobSpec(PERIODIC),
}


def enqueue(job: str, *args, job_id: str | None = None, at: datetime | None = None):
    """Enqueue the job named by its dotted path on its queue, with its retries (bounded and spaced
    by RQ) and time limit (JOBS); `at`: not before then (RQ's scheduler)."""
    spec = JOBS[job]
    config = current_app.config
    delays = config[spec.retry_delays] if spec.retry_delays else []
    options = {"retry": Retry(max=len(delays), interval=delays) if delays else None, "job_id": job_id,
               "job_timeout": config[spec.timeout] if spec.timeout else None}
    queue = get_queue(spec.queue)
    return queue.enqueue_at(at, job, *args, **options) if at else queue.enqueue(job, *args, **options)


def enqueue_after_commit(session, job: str, *args, **options) -> None:
    """Enqueue once the session commits, so the job finds the rows it is given ids of."""
    after_commit(session, enqueue, job, *args, **options)
