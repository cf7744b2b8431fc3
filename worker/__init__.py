"""RQ workers: the entry point (`python -m worker`), the worker class and the job functions.

worker/ depends on app/, never the reverse (DESIGN.md, convention 8).
"""
from __future__ import annotations

from contextlib import contextmanager

from flask import Flask, current_app, has_app_context
from rq import Worker

from app.extensions import db

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


class FootfallWorker(Worker):
    """RQ's forking worker; each work horse opens its own database connections."""

    def main_work_horse(self, job, queue):
        # Connections inherited through fork() belong to the parent: never reuse them.
        db.engine.dispose(close=False)
        super().main_work_horse(job, queue)
