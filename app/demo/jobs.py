"""Running the queued jobs (the campaign's start and batches, segment evaluations) in this process,
as a burst worker, while the demo is made: `make run` and `flask create-demo` need no worker of
their own for it.
"""
from __future__ import annotations

import time

from flask import current_app
from rq import SimpleWorker

from app.extensions import db
from app.queues import DEFAULT, MESSAGES, get_redis


class _BurstWorker(SimpleWorker):
    """A worker of this process that stops once the queues are empty. It leaves the process's
    SIGINT and SIGTERM handlers alone (those of `make run`: RQ's would take them over for good), and
    listens on no channel for `rq` commands (stopping that listener takes up to a second)."""

    def _install_signal_handlers(self):
        pass

    def subscribe(self):
        pass


def run_jobs() -> None:
    """Run the jobs waiting in the message and default queues here and now, as a burst worker: the
    campaign's start and batches, segment evaluations."""
    try:
        _BurstWorker([MESSAGES, DEFAULT], connection=get_redis()).work(
            burst=True, logging_level=current_app.config["LOG_LEVEL"])
    finally:
        db.session.remove()


def run_jobs_until(done, what: str, timeout: float = 30) -> None:
    """Run the waiting jobs until `done()` (another worker may hold some of them), or RuntimeError."""
    deadline = time.monotonic() + timeout
    while True:
        run_jobs()
        if done():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f}s: are the queues (Redis) and the workers well?")
        time.sleep(0.2)
