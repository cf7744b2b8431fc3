"""The event consumer that runs beside the RQ worker in `python -m worker`, in its own process:
it drains the page-view and click streams in batches and stores them; storing announces the
stored page views (app.signals.page_views_stored), whose receivers (app/wiring.py) run here. It
does nothing else: the periodic jobs are enqueued by the worker's main process (worker/schedule.py).

A process of its own, so that storing events never waits for a job the worker runs (and a slow
job never delays the stream), and a crash of either is contained.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import time

from app.extensions import db
from app.messaging.clicks import CLICKS
from app.queues import get_redis
from app.streams import consumer_name
from app.tracking.events import PAGE_VIEWS

log = logging.getLogger("worker.consumer")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def run(burst: bool = False) -> None:
    from worker import get_app

    stopping = False

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    with get_app().app_context():
        redis = get_redis()
        consumer = consumer_name()
        failing = grouped = False
        while not stopping:
            try:
                if not grouped:  # (Redis may be away as the consumer starts)
                    for stream in (PAGE_VIEWS, CLICKS):
                        stream.ensure_group(redis)
                    grouped = True
                handled = CLICKS.drain_once(redis, consumer, block_ms=None)
                handled += PAGE_VIEWS.drain_once(redis, consumer, block_ms=None if burst or handled else 1000)
            except Exception as error:  # a database or Redis outage: entries stay pending, try again
                # One line an outage (the traceback at LOG_LEVEL=info), not one a second.
                if not failing:
                    log.error("storing events failed, retrying every second: %s: %s", type(error).__name__,
                              str(error).strip().splitlines()[0][:300] if str(error).strip() else "",
                              exc_info=log.isEnabledFor(logging.INFO))
                failing = True
                db.session.rollback()
                time.sleep(1)
                continue
            finally:
                db.session.remove()
            if failing:
                log.warning("storing events works again")
                failing = False
            if burst and not handled:
                return


def start(burst: bool = False) -> multiprocessing.Process:
    process = multiprocessing.get_context("fork").Process(target=run, args=(burst,), name="event-consumer")
    process.start()
    return process


def stop(process: multiprocessing.Process, timeout: float = 15) -> None:
    if process.is_alive():
        process.terminate()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
