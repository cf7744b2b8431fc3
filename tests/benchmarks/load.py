"""load: 50,000 page-view beacons against a production-like deployment (gunicorn with 2 workers,
2 `python -m worker` processes, Redis with its append-only file on); every beacon the server
accepted must be stored exactly once (targets: load_events_lost = 0, load_events_duplicated = 0;
figures: load_accepted_per_s, load_stored_per_s, and load_vs_healthz_ratio against GET /healthz
from the same load generator on the same deployment).

CLIENTS processes each send their share over one keep-alive connection, as many visitors (the
deployment trusts one proxy's X-Forwarded-For, so the per-address limit applies to each). The
site's own rate limit is lifted: this measures capacity, not the limit.
"""
from __future__ import annotations

import http.client
import multiprocessing
import queue
import time

from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import PageView
from tests.benchmarks.harness import WEBSITE, BenchmarkFailed, Environment, create_site, log
from tests.cluster import BeaconSender, Deployment, RedisServer

BEACONS = 50_000
BASELINE_REQUESTS = 10_000
CLIENTS = 4
STORE_TIMEOUT_SECONDS = 600
UNLIMITED = 10**9


class LoggedDeployment(Deployment):
    """The deployment, its processes' output going where this process's does: the benchmark's log
    (Deployment discards it unless given a directory for a file each)."""

    def _log(self, name: str):
        return None  # inherited


def _send_share(port: int, site_key: str, prefix: str, count: int, barrier, results) -> None:
    sender = BeaconSender(port, site_key, WEBSITE, prefix)
    barrier.wait(timeout=30)
    for _ in range(count):
        sender.send()
    sender.close()
    results.put((sender.accepted, sender.statuses))


def _get_share(port: int, count: int, barrier, results) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    barrier.wait(timeout=30)
    statuses: dict[int, int] = {}
    for _ in range(count):
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
    connection.close()
    results.put(statuses)


def _in_processes(target, args_for) -> tuple[list, float]:
    """Run CLIENTS load processes started at once; their reports and the elapsed seconds."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(CLIENTS + 1)
    results = context.Queue()
    processes = [context.Process(target=target, args=(*args_for(index), barrier, results))
                 for index in range(CLIENTS)]
    for process in processes:
        process.start()
    barrier.wait(timeout=30)
    started = time.monotonic()
    try:
        reports = [results.get(timeout=STORE_TIMEOUT_SECONDS) for _ in processes]
    except queue.Empty:
        raise BenchmarkFailed("a load client did not report") from None
    elapsed = time.monotonic() - started
    for process in processes:
        process.join(10)
    return reports, elapsed


def stored_event_ids(prefix: str) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(PageView.event_id).where(PageView.event_id.like(f"{prefix}-%"))))


def run(env: Environment) -> dict[str, float]:
    redis = RedisServer(env.directory)
    redis.start()
    try:
        app = create_app(env.app_config(REDIS_URL=redis.url))
        with app.app_context():
            site_key = create_site()
        environ = env.child_environ(REDIS_URL=redis.url, PROXY_COUNT=1, INGEST_RATE_PER_SITE=UNLIMITED)
        with LoggedDeployment(environ, web_workers=2, workers=2) as deployment, app.app_context():
            statuses, elapsed = _in_processes(_get_share,
                                              lambda index: (deployment.port, BASELINE_REQUESTS // CLIENTS))
            if any(set(report) != {200} for report in statuses):
                raise BenchmarkFailed(f"/healthz answered {statuses}")
            healthz_per_s = BASELINE_REQUESTS / elapsed
            log(f"baseline: GET /healthz {healthz_per_s:.0f}/s")

            share = BEACONS // CLIENTS
            started = time.monotonic()
            reports, elapsed = _in_processes(_send_share,
                                             lambda index: (deployment.port, site_key, f"load-c{index}",
                                                            share))
            accepted = [event_id for ids, _ in reports for event_id in ids]
            outcomes: dict = {}
            for _, report in reports:
                for outcome, count in report.items():
                    outcomes[outcome] = outcomes.get(outcome, 0) + count
            log(f"sent {share * CLIENTS} beacons in {elapsed:.1f}s: {outcomes}")
            if not accepted:
                raise BenchmarkFailed("no beacon was accepted")

            deadline = started + STORE_TIMEOUT_SECONDS
            stored = stored_event_ids("load")
            while len(set(stored) & set(accepted)) < len(accepted) and time.monotonic() < deadline:
                time.sleep(1)
                stored = stored_event_ids("load")
            stored_after = time.monotonic() - started
    finally:
        redis.stop()
    distinct = set(stored)
    lost = len(set(accepted) - distinct)
    log(f"stored {len(stored)} page views ({len(distinct)} distinct) "
        f"{stored_after:.1f}s after the first beacon")
    return {
        "load_beacons_sent": share * CLIENTS,
        "load_events_accepted": len(accepted),
        "load_events_lost": lost,
        "load_events_duplicated": len(stored) - len(distinct),
        "load_accepted_per_s": len(accepted) / elapsed,
        "load_stored_per_s": len(distinct) / stored_after,
        "load_vs_healthz_ratio": (len(accepted) / elapsed) / healthz_per_s,
    }
