"""The real worker process, `python -m worker`: it stores beacons, and a kill -9 mid-batch
loses nothing and stores nothing twice."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from app.config import PROJECT_ROOT
from app.extensions import db
from app.models import PageView
from app.queues import get_redis
from app.tracking.ingest import EVENTS_STREAM, event_record, push_event
from app.tracking.sites import SiteInfo
from tests.support import wait_until

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36"


def start_worker(database_url, redis_url, *extra):
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, EVENTS_CLAIM_IDLE_MS="500")
    return subprocess.Popen([sys.executable, "-m", "worker", "--no-scheduler", *extra], cwd=PROJECT_ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def stored_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(PageView))


def push(site, count: int) -> None:
    info = SiteInfo(site.id, site.account_id, "shop.example", True)
    redis = get_redis()
    with redis.pipeline(transaction=False) as pipe:
        for n in range(count):
            beacon = {"u": f"https://www.shop.example/p/{n}", "t": "", "r": "", "v": "visitor-0001", "c": "",
                      "e": f"kill-test-{n:06d}", "ts": None}
            push_event(pipe, event_record(beacon, info, BROWSER))
        pipe.execute()


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(site, database_url, redis_url):
    total = 6000
    push(site, total)
    worker = start_worker(database_url, redis_url)
    try:
        wait_until(lambda: stored_count() > 0, timeout=60)
        for pid in children(worker.pid) + [worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    stopped_at = stored_count()
    assert stopped_at < total, "the worker finished before it was killed; the test proves nothing"

    time.sleep(0.6)  # past EVENTS_CLAIM_IDLE_MS, so the restarted worker takes the dead one's entries
    restarted = start_worker(database_url, redis_url, "--burst")
    assert restarted.wait(120) == 0
    assert stored_count() == total
    distinct = db.session.scalar(select(func.count(func.distinct(PageView.event_id))))
    assert distinct == total
    assert get_redis().xpending(EVENTS_STREAM, "store")["pending"] == 0


def test_a_worker_without_its_event_consumer_still_enqueues_the_periodic_jobs(app, database_url, redis_url):
    from rq import Queue

    from app.queues import PERIODIC
    from worker.schedule import PERIODIC_JOBS

    periodic = Queue(PERIODIC, connection=get_redis())
    worker = start_worker(database_url, redis_url, "--no-events", "--queues", "ingest")  # (not periodic)
    try:
        wait_until(lambda: periodic.count == len(PERIODIC_JOBS), timeout=60)
        assert children(worker.pid) == []  # no event consumer
        time.sleep(1.5)  # a tick or more later: each job still once, its period not over
        assert sorted(job.func_name for job in periodic.jobs) == sorted(job for job, _ in PERIODIC_JOBS)
    finally:
        worker.terminate()
        assert worker.wait(30) == 0
