"""RQ workers: the entry point (`python -m worker`), the worker class and the job functions.

worker/ depends on app/, never the reverse (docs/architecture.md, convention 8).
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context
from rq import SimpleWorker

from app.extensions import db
from app.metrics import increment, series

_app: Flask | None = None
log = logging.getLogger("worker")
MAX_ERROR_LENGTH = 300


def get_app() -> Flask:
    """The worker process's one app object, made on first use."""
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


@contextmanager
def job_context():
    """Run a job inside an app context, and leave no session behind for the next job."""
    if has_app_context():
        try:
            yield current_app
        finally:
            db.session.remove()
        return
    with get_app().app_context():
        try:
            yield current_app
        finally:
            db.session.remove()


class FootfallWorker(SimpleWorker):
    """Runs each job in this process: a fork per job costs more (tens of milliseconds) than most of
    our jobs take, and jobs are short and leave no state behind (job_context removes the session).
    Timeouts still apply (RQ's alarm-based death penalty); run more worker processes for more
    parallelism.

    RQ's scheduler (delayed jobs and retries) runs in a child process that exits when Redis goes
    away, and a worker starts it again only at its maintenance; RQ's default of every 10 minutes
    would leave retries waiting that long after a Redis restart."""

    MAINTENANCE_SECONDS = 30

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", self.MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)
        self.asked_to_stop = False

    def request_stop(self, signum, frame):
        """SIGTERM or Ctrl-C: RQ's warm shutdown, noted (work() also returns when RQ quits by itself)."""
        self.asked_to_stop = True
        super().request_stop(signum, frame)

    def handle_exception(self, job, *exc_info):
        """One line per failed run instead of RQ's record with the whole traceback (that comes back,
        after the line, at LOG_LEVEL=info); then RQ's exception handlers, as RQ runs them."""
        log_failed_run(job, exc_info)
        for handler in self._exc_handlers:
            fallthrough = handler(job, *exc_info)
            if fallthrough is not None and not fallthrough:  # as RQ: a false value stops the rest
                break

    def handle_job_failure(self, job, queue, *args, **kwargs):
        """Counts every failed run (footfall_jobs_failed_total), then lets RQ retry or keep the job
        (with the arguments of the RQ version installed)."""
        increment(self.connection, {series("jobs_failed", job.origin): 1})
        super().handle_job_failure(job, queue, *args, **kwargs)


def log_failed_run(job, exc_info) -> None:
    """`job worker.jobs.messages.deliver_email failed (attempt 2 of 4): ConnectionRefusedError: …`:
    a warning while RQ will retry the job, an error on its last attempt. Attempts are counted in
    the job's meta (RQ keeps only the retries left), so they survive the worker."""
    _, error, _ = exc_info
    try:
        name = job.func_name
    except Exception:  # noqa: BLE001 (a job RQ cannot deserialise still gets its line)
        name = job.id
    attempt = int(job.meta.get("attempts", 0)) + 1
    job.meta["attempts"] = attempt
    try:
        job.save_meta()
    except Exception:  # noqa: BLE001 (Redis went away as the job failed: the count is off by one next time)
        pass
    attempts = attempt + (job.retries_left or 0)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if len(text) > MAX_ERROR_LENGTH:
        text = text[:MAX_ERROR_LENGTH] + "…"
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    log.log(logging.WARNING if job.retries_left else logging.ERROR, "job %s failed (attempt %d of %d): %s",
            name, attempt, attempts, reason, extra={"job_id": job.id},
            exc_info=exc_info if log.isEnabledFor(logging.INFO) else None)
