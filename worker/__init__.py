"""RQ workers: the entry point (`python -m worker`), the worker class and the job functions.

worker/ depends on app/, never the reverse (DESIGN.md, convention 8).
"""
from __future__ import annotations

from contextlib import contextmanager

from flask import Flask, current_app, has_app_context
from rq import SimpleWorker

from app.extensions import db
from app.metrics import increment, series

_app: Flask | None = None


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

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string="", execution=None):
        """Counts every failed run (footfall_jobs_failed_total), then lets RQ retry or keep the job."""
        increment(self.connection, {series("jobs_failed", job.origin): 1})
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string,
                                   execution=execution)
