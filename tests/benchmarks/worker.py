"""worker: page views stored per second by draining the beacon stream in batches, over one RQ job
per page view run by the real forking worker (target: worker_batch_vs_job_ratio ≥ 20).

Batches: BATCH_EVENTS records pushed to the stream as /collect pushes them, then events.drain()
timed in this process. Jobs: JOB_EVENTS jobs of tests/benchmarks/jobs.py on the ingest queue, run
by `python -m worker --burst`, as production runs jobs.
"""
from __future__ import annotations

import subprocess
import sys
import time

from redis import Redis
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from app import create_app
from app.config import PROJECT_ROOT
from app.devserver import stop
from app.extensions import db
from app.models import PageView
from app.queues import INGEST, get_queue, get_redis
from app.tracking import events
from app.tracking.ingest import event_record, push_event
from app.tracking.sites import SiteCache, SiteInfo
from tests.benchmarks.harness import BROWSER, WEBSITE, BenchmarkFailed, Environment, create_site, log

BATCH_EVENTS = 5000
# Each job costs the forking worker ~85 ms here (a work horse configures SQLAlchemy's mappers
# afresh), so 500 jobs keep the benchmark well under two minutes.
JOB_EVENTS = 500
WORKER_TIMEOUT = 90


def records(site: SiteInfo, prefix: str, count: int) -> list[str]:
    """`count` stream records of distinct page views, with event ids `prefix-000000`…"""
    sent = int(time.time() * 1000)
    return [event_record({"u": f"{WEBSITE}/pricing", "t": "Pricing", "r": "", "v": "visitor-0001", "c": "",
                          "e": f"{prefix}-{index:06d}", "ts": sent}, site, BROWSER)
            for index in range(count)]


def stored(prefix: str) -> int:
    db.session.rollback()  # a fresh transaction, so the count sees what others committed
    return db.session.scalar(select(func.count()).select_from(PageView)
                             .where(PageView.event_id.startswith(f"{prefix}-")))


def batch_rate(redis: Redis, site: SiteInfo) -> float:
    with redis.pipeline(transaction=False) as pipeline:
        for record in records(site, "batch", BATCH_EVENTS):
            push_event(pipeline, record)
        pipeline.execute()
    started = time.perf_counter()
    handled = events.drain(redis)
    elapsed = time.perf_counter() - started
    page_views = stored("batch")
    if handled != BATCH_EVENTS or page_views != BATCH_EVENTS:
        raise BenchmarkFailed(f"draining {BATCH_EVENTS} events handled {handled} and stored {page_views}")
    log(f"batches: {BATCH_EVENTS} events drained in {elapsed:.2f}s")
    return BATCH_EVENTS / elapsed


def job_rate(env: Environment, redis: Redis, site: SiteInfo) -> float:
    # (A job of the benchmark's own, enqueued through RQ: not one the app declares in app/queues.py.)
    job_ids = [get_queue(INGEST).enqueue("tests.benchmarks.jobs.store_one", record).id
               for record in records(site, "job", JOB_EVENTS)]
    started = time.perf_counter()
    # RQ logs two lines a job: like all the benchmark's output, they go to its log file.
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker", "--burst", "--no-events", "--no-scheduler", "--queues", INGEST],
        cwd=PROJECT_ROOT, env=env.child_environ())
    try:
        returncode = worker.wait(WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        returncode = None
    finally:
        stop([worker])
    if returncode != 0:
        outcome = "timed out" if returncode is None else f"exited with {returncode}"
        raise BenchmarkFailed(f"the worker {outcome}; its output is in the log")
    log(f"jobs: the worker ran {JOB_EVENTS} jobs and exited in {time.perf_counter() - started:.2f}s")
    jobs = [job for job in Job.fetch_many(job_ids, connection=redis)
            if job and job.get_status(refresh=False) == JobStatus.FINISHED]
    page_views = stored("job")
    if len(jobs) != JOB_EVENTS or page_views != JOB_EVENTS:
        raise BenchmarkFailed(f"{len(jobs)} of {JOB_EVENTS} jobs finished and {page_views} page views stored")
    # Between the first job's end and the last's lie JOB_EVENTS - 1 whole cycles of dequeue,
    # fork, store and report; the worker's start-up and shutdown stay outside the measure.
    ends = sorted(job.ended_at for job in jobs)
    return (JOB_EVENTS - 1) / (ends[-1] - ends[0]).total_seconds()


def run(env: Environment) -> dict[str, float]:
    app = create_app(env.app_config())
    with app.app_context():
        site = SiteCache().get(create_site())
        redis = get_redis()
        batches = batch_rate(redis, site)
        jobs = job_rate(env, redis, site)
    return {
        "worker_batch_events_per_s": batches,
        "worker_job_events_per_s": jobs,
        "worker_batch_vs_job_ratio": batches / jobs,
    }
