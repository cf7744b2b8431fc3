"""api: the REST API's throughput, webhook latency and memory.

- api_contact_upserts_per_s: POST /api/v1/contacts/upsert, one contact a request (new emails),
  through the app in this process; against the CSV import's rows per second in the same process
  (run_import of a file of as many new rows), as interleaved pairs (api_upserts_vs_import_ratio:
  how much of an import's speed a program upserting one contact at a time gets).
- api_events_per_s: POST /api/v1/events in batches of 1,000, against POST /collect beacons per
  second, both through the same app in this process (api_events_vs_beacons_ratio).
- webhook_delivery_p95_ms: a webhook subscription to event.custom and a local HTTP receiver; 500
  API events sent at 50 a second (batches of 10) and stored by a real worker (`python -m worker`),
  from each delivery stored (with its event) to its arrival at the receiver.
- api_peak_rss_mb: 100,000 API events posted over HTTP to gunicorn (one sync worker), stored by
  the real worker: the peak resident memory of the web and worker processes (their largest
  VmHWM), and api_rss_growth_mb, how much those peaks grew from the first 20,000 events to all
  100,000 (flat: the benchmark fails past MAX_GROWTH_MB).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from app import api_keys, create_app, subscriptions
from app.config import PROJECT_ROOT
from app.contacts import imports
from app.devserver import stop
from app.extensions import db
from app.models import Contact, CustomEvent, WebhookDelivery
from app.queues import get_redis
from app.tracking import setup
from tests.benchmarks.automation import _receiver  # (the automation benchmark's receiver)
from tests.benchmarks.harness import (
    BROWSER,
    WEBSITE,
    BenchmarkFailed,
    Environment,
    create_list,
    create_owner,
    interleaved_pairs,
    log,
    median_ratio,
)
from tests.cluster import answers
from tests.support import free_port, wait_until

PAIRS = 5
UPSERTS = 300
BATCH = 1000
BATCHES_PER_RUN = 3
BEACONS = 1500
WEBHOOK_EVENTS = 500
WEBHOOK_BATCH, WEBHOOK_RATE = 10, 50
RSS_EVENTS = 100_000
RSS_CHECKPOINT = 20_000
MAX_GROWTH_MB = 40
UNLIMITED = 10**9


def _processes_of(root: int) -> list[int]:
    """The process and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _peaks(roots: list[int]) -> dict[int, float]:
    return {pid: _peak_mb(pid) for root in roots for pid in _processes_of(root)}


def _events(contact_ids: list[int], tag: str) -> bytes:
    return json.dumps(
        {
            "events": [
                {
                    "contact_id": contact_ids[n % len(contact_ids)],
                    "name": "order.placed",
                    "id": f"{tag}-{n}",
                    "properties": {"total": n % 500, "plan": "pro"},
                }
                for n in range(BATCH)
            ]
        }
    ).encode()


def _in_process(env: Environment, secret: str, site_key: str, contact_ids: list[int], account_id: int):
    app = create_app(
        env.app_config(
            API_REQUESTS_PER_MINUTE=UNLIMITED,
            INGEST_RATE_PER_ADDRESS=UNLIMITED,
            INGEST_RATE_PER_SITE=UNLIMITED,
        )
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    def upserts(index: int) -> float:
        started = time.perf_counter()
        for n in range(UPSERTS):
            answer = client.post(
                "/api/v1/contacts/upsert",
                headers=headers,
                json={
                    "email": f"upsert{index}-{n}@customer.example",
                    "first_name": "Ada",
                    "fields": {"company": "Analytical"},
                },
            )
            if answer.status_code != 201:
                raise BenchmarkFailed(
                    f"an upsert answered {answer.status_code}: {answer.get_data(as_text=True)}"
                )
        return UPSERTS / (time.perf_counter() - started)

    def import_rows(index: int) -> float:
        data = "email,first_name,company\n" + "".join(
            f"import{index}-{n}@customer.example,Ada,Analytical\n" for n in range(UPSERTS)
        )
        with app.app_context():
            started = time.perf_counter()
            contact_import = imports.start_import(account_id, None, "people.csv", io.BytesIO(data.encode()))
            db.session.commit()
            done = imports.run_import(contact_import.id)
            seconds = time.perf_counter() - started
            if done is None or done.imported != UPSERTS:
                raise BenchmarkFailed(f"the import stored {getattr(done, 'imported', 0)} of {UPSERTS} rows")
        return UPSERTS / seconds

    def events(index: int) -> float:
        bodies = [_events(contact_ids, f"inproc{index}-{batch}") for batch in range(BATCHES_PER_RUN)]
        started = time.perf_counter()
        for body in bodies:
            answer = client.post(
                "/api/v1/events", headers={**headers, "Content-Type": "application/json"}, data=body
            )
            if answer.status_code != 202:
                raise BenchmarkFailed(
                    f"a batch answered {answer.status_code}: {answer.get_data(as_text=True)}"
                )
        return BATCH * BATCHES_PER_RUN / (time.perf_counter() - started)

    def beacons(index: int) -> float:
        bodies = [
            json.dumps(
                {
                    "k": site_key,
                    "u": f"{WEBSITE}/pricing?n={n}",
                    "v": "bench-visitor-0001",
                    "e": f"bench-{index}-{n:06d}",
                    "t": "Pricing",
                }
            )
            for n in range(BEACONS)
        ]
        started = time.perf_counter()
        for body in bodies:
            answer = client.post(
                "/collect", data=body, headers={"Content-Type": "text/plain", "User-Agent": BROWSER}
            )
            if answer.status_code != 204:
                raise BenchmarkFailed(f"a beacon answered {answer.status_code}")
        return BEACONS / (time.perf_counter() - started)

    upsert_pairs = interleaved_pairs(
        import_rows, upserts, PAIRS, ("import rows/s", "upserts/s"), alternate=True
    )
    event_pairs = interleaved_pairs(beacons, events, PAIRS, ("beacons/s", "API events/s"), alternate=True)
    with app.app_context():
        get_redis().delete("footfall:events")  # (not stored: the in-process figures are the request's)
    return upsert_pairs, event_pairs


def _post(port: int, secret: str, body: bytes) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(
        "POST",
        "/api/v1/events",
        body=body,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    answer = connection.getresponse()
    answer.read()
    connection.close()
    if answer.status != 202:
        raise BenchmarkFailed(f"a batch answered {answer.status}")


def _stored(app, count: int, timeout: float) -> None:
    def enough() -> bool:
        with app.app_context():
            found = db.session.scalar(select(func.count()).select_from(CustomEvent))
            db.session.remove()
            return found >= count

    try:
        wait_until(enough, timeout=timeout, interval=0.5)
    except AssertionError:
        raise BenchmarkFailed(f"fewer than {count} events were stored within {timeout}s") from None


def run(env: Environment) -> dict[str, float]:
    app = create_app(env.app_config())
    with app.app_context():
        owner = create_owner()
        account_id = owner.account_id
        site_key = setup.get_site(account_id).site_key
        create_list(account_id, 1000)
        contact_ids = list(db.session.scalars(select(Contact.id).where(Contact.account_id == account_id)))
        _, secret = api_keys.create_key(account_id, "Bench", "write")
        db.session.commit()
    upsert_pairs, event_pairs = _in_process(env, secret, site_key, contact_ids, account_id)

    port = free_port()
    settings = dict(API_REQUESTS_PER_MINUTE=UNLIMITED, FOOTFALL_ENV="development")
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(PROJECT_ROOT),
            "--log-level",
            "warning",
            "tests.benchmarks.ingest_app:app",
        ],
        env=env.child_environ(**settings),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker"], cwd=PROJECT_ROOT, env=env.child_environ(**settings)
    )
    hooks_log = Path(env.directory) / "webhooks.txt"
    receiver = _receiver(hooks_log)
    try:
        try:
            wait_until(lambda: web.poll() is not None or answers(port, "/bench/hello"), timeout=30)
        except AssertionError:
            raise BenchmarkFailed("gunicorn did not answer within 30s") from None
        sent = 0
        checkpoint = None
        while sent < RSS_EVENTS:
            _post(port, secret, _events(contact_ids, f"rss-{sent}"))
            sent += BATCH
            if sent == RSS_CHECKPOINT:
                _stored(app, sent, 120)
                checkpoint = _peaks([web.pid, worker.pid])
                log(f"peaks after {sent} events: {checkpoint}")
        _stored(app, RSS_EVENTS, 300)
        final = _peaks([web.pid, worker.pid])
        log(f"peaks after {RSS_EVENTS} events: {final}")
        growth = max(final.get(pid, 0) - checkpoint.get(pid, 0) for pid in final)
        if growth > MAX_GROWTH_MB:
            raise BenchmarkFailed(
                f"a process's peak memory grew by {growth:.0f} MB from {RSS_CHECKPOINT} to "
                f"{RSS_EVENTS} events"
            )

        with app.app_context():
            subscriptions.create(
                account_id, f"http://127.0.0.1:{receiver.server_port}/hooks", ["event.custom"]
            )
            db.session.commit()
        time.sleep(1)
        for start in range(0, WEBHOOK_EVENTS, WEBHOOK_BATCH):  # (50 events a second)
            body = json.dumps(
                {
                    "events": [
                        {"contact_id": contact_ids[n], "name": "signup", "id": f"hook-{n}"}
                        for n in range(start, start + WEBHOOK_BATCH)
                    ]
                }
            ).encode()
            _post(port, secret, body)
            time.sleep(WEBHOOK_BATCH / WEBHOOK_RATE)
        try:
            wait_until(
                lambda: hooks_log.exists() and len(hooks_log.read_text().splitlines()) >= WEBHOOK_EVENTS,
                timeout=120,
                interval=0.2,
            )
        except AssertionError:
            raise BenchmarkFailed("the webhook calls did not all arrive within 120s") from None
    finally:
        stop([web, worker])
        receiver.shutdown()
    arrived = dict(line.split() for line in hooks_log.read_text().splitlines())
    with app.app_context():
        stored = dict(
            db.session.execute(
                select(WebhookDelivery.event_id, WebhookDelivery.created_at).where(
                    WebhookDelivery.subscription_id.is_not(None)
                )
            ).all()
        )
    latencies = sorted(
        (float(arrived[event_id]) - stored[event_id].timestamp()) * 1000
        for event_id in arrived
        if event_id in stored
    )
    if len(latencies) < WEBHOOK_EVENTS:
        raise BenchmarkFailed(f"{len(latencies)} of {WEBHOOK_EVENTS} deliveries were matched")
    return {
        "api_contact_upserts_per_s": sorted(pair.measured for pair in upsert_pairs)[PAIRS // 2],
        "api_upserts_vs_import_ratio": median_ratio(upsert_pairs),
        "api_events_per_s": sorted(pair.measured for pair in event_pairs)[PAIRS // 2],
        "api_events_vs_beacons_ratio": median_ratio(event_pairs),
        "webhook_delivery_p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "api_peak_rss_mb": max(final.values()),
        "api_rss_growth_mb": growth,
    }
