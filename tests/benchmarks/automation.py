"""automation: 1,000 page views of distinct contacts trigger an automation whose path tags the
contact, updates a contact field, sends an email and calls a webhook; the time from each beacon's
arrival (its entry in the stream) to the message handed to a local SMTP sink, and from each
stored webhook call to a local HTTP receiver, with one real worker (`python -m worker`). Also the
worker's time per stored event with 20 active automations (none matching) over none, in the same run.

Prints automation_latency_p50_ms (target ≤ 1000), automation_latency_p95_ms (target ≤ 2000),
webhook_delivery_p95_ms (from the delivery stored by the step to the receiver's answer) and
trigger_overhead_ratio (target ≤ 1.1).

The overhead is measured in this process, as interleaved pairs (harness.interleaved_pairs()):
OVERHEAD_PAIRS pairs of one batch of BATCH identified page views stored with the 20 automations
paused and one with them active, alternately first, and the median of the pairs' ratios is
reported. Each batch starts alike: the account's rules compiled (the worker keeps them a few
seconds), SQLite's write-ahead log checkpointed, garbage collected; and its page views are
deleted after it, so the table does not grow from one batch to the next. Pairs of short runs side
by side see the same machine; one burst of other work spoils a pair, not the median."""
from __future__ import annotations

import gc
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import delete, func, select, text

from app import create_app
from app.automations import engine, schema, triggers
from app.config import PROJECT_ROOT
from app.extensions import db
from app.models import Automation, Contact, PageView, WebhookDelivery, contact_tags, list_members
from app.queues import get_redis
from app.tracking.cid import make_cid
from app.tracking.events import store_records
from app.tracking.ingest import EVENTS_STREAM, event_record, push_event
from app.tracking.sites import SiteInfo
from app.tracking.setup import get_site
from tests.benchmarks.harness import (BROWSER, PUBLIC_URL, BenchmarkFailed, create_list, create_owner,
                                      interleaved_pairs, median_ratio)
from tests.support import free_port

EVENTS = int(os.environ.get("AUTOMATION_EVENTS", 1000))
PER_SECOND = 20
# 50 pairs of 500-event batches (~30 ms each): about 15 s, and a median that moved by ~0.01 from
# one run to the next here; pairs of 5,000-event runs (4, or 12) moved by 0.1 to 0.4.
OVERHEAD_PAIRS = 50
BATCH = 500
OVERHEAD_PATH = "/blog"
TIMEOUT = 90


def _sink(port: int, path: str, ready, done) -> None:
    """An SMTP server that writes "recipient time" for each message it accepts."""
    from aiosmtpd.controller import Controller

    out = open(path, "a", buffering=1)

    class Recording:
        async def handle_DATA(self, server, session, envelope):
            out.write(f"{envelope.rcpt_tos[0]} {time.time()}\n")
            return "250 OK"

    controller = Controller(Recording(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    done.wait()
    controller.stop()


def _record(site, contact_id: int, n: int, path: str) -> str:
    info = SiteInfo(site.id, site.account_id, "shop.example", True)
    # (a browser per contact: one browser shared by all would switch from contact to contact)
    beacon = {"u": f"https://www.shop.example{path}", "t": "", "r": "", "v": f"visitor-{contact_id:06d}",
              "ts": None, "c": make_cid(site.account_id, contact_id), "e": f"bench-{path}-{n}"}
    return event_record(beacon, info, BROWSER)


def _receiver(path: Path):
    """A local webhook receiver (a thread of this process) writing "event-id time" per call."""
    out = open(path, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            out.write(f"{self.headers['Footfall-Event-Id']} {time.time()}\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _automation(account_id: int, value: str, webhook_url: str = "") -> Automation:
    """A path that sends an email; with a webhook address, one that first tags the contact and
    updates a field, then sends the email and calls the webhook."""
    actions = [{"id": schema.new_id(), "kind": "tag", "action": "add", "tag": "hot"},
               {"id": schema.new_id(), "kind": "field", "field": "company", "action": "set",
                "value": "Interested Ltd"}] if webhook_url else []
    hooks = [{"id": schema.new_id(), "kind": "webhook", "url": webhook_url, "secret": "whsec_bench"}] \
        if webhook_url else []
    item = Automation(account_id=account_id, name=f"On {value}", status="draft",
                      trigger={"type": "page_view", "op": "contains", "value": value, "count": 1,
                               "days": None},
                      exit_rules=[{"type": "page_view", "op": "contains", "value": value + "/thanks"}],
                      steps=[*actions,
                             {"id": schema.new_id(), "kind": "email", "subject": "Questions?",
                              "body": '<p><a href="https://www.shop.example/contact">Talk to us</a></p>'},
                             *hooks, {"id": schema.new_id(), "kind": "end"}])
    db.session.add(item)
    db.session.flush()
    if engine.activate(item):
        raise BenchmarkFailed("the benchmark's automation does not activate")
    return item


def _store_seconds(site, contact_ids: list[int], automations: list[Automation], status: str,
                   tag: str) -> float:
    """Worker time to store BATCH identified page views of OVERHEAD_PATH, none matching a rule,
    with `automations` in `status`; the batch is deleted afterwards."""
    for item in automations:
        item.status = status
    db.session.commit()
    triggers.forget(site.account_id)
    triggers.account_rules(site.account_id)  # compiled, as the worker has them most of the time
    records = [_record(site, contact_ids[n % len(contact_ids)], n, f"{OVERHEAD_PATH}/{tag}")
               for n in range(BATCH)]
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
    gc.collect()
    started = time.perf_counter()
    stored = store_records(records)
    elapsed = time.perf_counter() - started
    db.session.execute(delete(PageView).where(PageView.path.startswith(f"{OVERHEAD_PATH}/")))
    db.session.commit()
    if stored != BATCH:
        raise BenchmarkFailed(f"{stored} of {BATCH} page views stored")
    return elapsed


def run(env) -> dict[str, float]:
    app = create_app(env.app_config(PUBLIC_URL=PUBLIC_URL))
    with app.app_context():
        user = create_owner()
        site = get_site(user.account_id)
        people = create_list(user.account_id, EVENTS)
        contact_ids = list(db.session.scalars(select(list_members.c.contact_id)
                                              .where(list_members.c.list_id == people.id)
                                              .order_by(list_members.c.contact_id)))
        emails = dict(db.session.execute(select(Contact.id, Contact.email).where(Contact.id.in_(contact_ids)))
                      .all())

        # Trigger overhead, in this process: the same batches with the 20 automations (none
        # matching) paused and active, in interleaved pairs.
        twenty = [_automation(user.account_id, f"/offer-{n}") for n in range(20)]
        pairs = interleaved_pairs(lambda n: _store_seconds(site, contact_ids, twenty, "paused", f"paused{n}"),
                                  lambda n: _store_seconds(site, contact_ids, twenty, "active", f"active{n}"),
                                  OVERHEAD_PAIRS, ("paused s", "active s"), alternate=True)
        if db.session.scalar(select(PageView.id).where(PageView.path == "/pricing")) is not None:
            raise BenchmarkFailed("unexpected page views")

        hooks_path = Path(env.directory) / "webhooks.txt"
        receiver = _receiver(hooks_path)
        _automation(user.account_id, "/pricing", f"http://127.0.0.1:{receiver.server_port}/hook")
        db.session.commit()
        context = multiprocessing.get_context("fork")
        ready, done = context.Event(), context.Event()
        received_path = Path(env.directory) / "received.txt"
        port = free_port()
        sink = context.Process(target=_sink, args=(port, str(received_path), ready, done), daemon=True)
        sink.start()
        if not ready.wait(30):
            raise BenchmarkFailed("the SMTP sink did not start")
        # Its output, and the sink's, go where this process's does: the benchmark's log.
        worker = subprocess.Popen([sys.executable, "-m", "worker", "--no-scheduler"], cwd=PROJECT_ROOT,
                                  env=env.child_environ(MAIL_URL=f"smtp://127.0.0.1:{port}",
                                                        PUBLIC_URL=PUBLIC_URL))
        try:
            time.sleep(2)  # the worker and its consumer start
            redis = get_redis()
            pushed = {}
            started = time.perf_counter()
            for n, contact_id in enumerate(contact_ids):
                pushed[emails[contact_id]] = time.time()
                push_event(redis, _record(site, contact_id, n, "/pricing"))
                time.sleep(max(0.0, started + (n + 1) / PER_SECOND - time.perf_counter()))
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                if all(path.exists() and len(path.read_text().splitlines()) >= EVENTS
                       for path in (received_path, hooks_path)):
                    break
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(30)
            done.set()
            sink.join(10)
            receiver.shutdown()
        lines = received_path.read_text().splitlines() if received_path.exists() else []
        received = {address: float(at) for address, at in (line.split() for line in lines)}
        if len(received) != EVENTS or redis.xlen(EVENTS_STREAM) < EVENTS:
            raise BenchmarkFailed(f"{len(received)} of {EVENTS} emails arrived; "
                                  "the worker's output is in the log")
        latencies = sorted((received[address] - at) * 1000 for address, at in pushed.items())
        called = {event: float(at) for event, at in
                  (line.split() for line in hooks_path.read_text().splitlines())}
        stored = dict(db.session.execute(select(WebhookDelivery.event_id, WebhookDelivery.created_at)).all())
        if len(called) != EVENTS or set(called) != set(stored):
            raise BenchmarkFailed(f"{len(called)} of {EVENTS} webhook calls arrived")
        if db.session.scalar(select(func.count()).select_from(contact_tags)) != EVENTS:
            raise BenchmarkFailed("not every contact was tagged")
        deliveries = sorted((called[event] - stored[event].timestamp()) * 1000 for event in called)
    return {
        "automation_latency_p50_ms": statistics.median(latencies),
        "automation_latency_p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "webhook_delivery_p95_ms": deliveries[int(len(deliveries) * 0.95) - 1],
        "trigger_overhead_ratio": median_ratio(pairs),
    }
