"""automation: 1,000 page views of distinct contacts trigger an automation whose first step sends
an email; the time from each beacon's arrival (its entry in the stream) to the message handed to
a local SMTP sink, with one real worker (`python -m worker`). Also the worker's time per stored
event with 20 active automations (none matching) over none, in the same run.

Prints automation_latency_p50_ms (target ≤ 1000), automation_latency_p95_ms (target ≤ 2000) and
trigger_overhead_ratio (target ≤ 1.1)."""
from __future__ import annotations

import multiprocessing
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from app import create_app
from app.automations import engine, schema, triggers
from app.config import PROJECT_ROOT
from app.extensions import db
from app.models import Automation, Contact, PageView, list_members
from app.queues import get_redis
from app.tracking.cid import make_cid
from app.tracking.events import store_records
from app.tracking.ingest import EVENTS_STREAM, SiteInfo, event_record, push_event
from app.tracking.setup import get_site
from tests.benchmarks.harness import BROWSER, PUBLIC_URL, BenchmarkFailed, create_list, create_owner
from tests.support import free_port

EVENTS = int(__import__("os").environ.get("AUTOMATION_EVENTS", 1000))
PER_SECOND = 20
OVERHEAD_EVENTS = 5000
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


def _record(site, contact_id: int, n: int, path: str, identify: bool = True) -> str:
    info = SiteInfo(site.id, site.account_id, "shop.example", True)
    beacon = {"u": f"https://www.shop.example{path}", "t": "", "r": "", "v": "visitor-0001", "ts": None,
              "c": make_cid(site.account_id, contact_id) if identify else "", "e": f"bench-{path}-{n}"}
    return event_record(beacon, info, BROWSER)


def _automation(account_id: int, value: str) -> Automation:
    item = Automation(account_id=account_id, name=f"On {value}", status="draft",
                      trigger={"type": "page_view", "op": "contains", "value": value, "count": 1, "days": None},
                      exit_rules=[{"type": "page_view", "op": "contains", "value": value + "/thanks"}],
                      steps=[{"id": schema.new_id(), "kind": "email", "subject": "Questions?",
                              "body": '<p><a href="https://www.shop.example/contact">Talk to us</a></p>'},
                             {"id": schema.new_id(), "kind": "end"}])
    db.session.add(item)
    db.session.flush()
    if engine.activate(item):
        raise BenchmarkFailed("the benchmark's automation does not activate")
    return item


def _store_seconds(site, contact_ids: list[int], tag: str) -> float:
    """Worker time to store OVERHEAD_EVENTS identified page views of /blog, in batches of 500."""
    records = [_record(site, contact_ids[n % len(contact_ids)], n, f"/blog/{tag}") for n in range(OVERHEAD_EVENTS)]
    started = time.perf_counter()
    for start in range(0, len(records), 500):
        store_records(records[start:start + 500])
    return time.perf_counter() - started


def run(env) -> dict[str, float]:
    app = create_app(env.app_config(PUBLIC_URL=PUBLIC_URL))
    with app.app_context():
        user = create_owner()
        site = get_site(user.account_id)
        people = create_list(user.account_id, EVENTS)
        contact_ids = list(db.session.scalars(select(list_members.c.contact_id)
                                              .where(list_members.c.list_id == people.id).order_by(list_members.c.contact_id)))
        emails = dict(db.session.execute(select(Contact.id, Contact.email).where(Contact.id.in_(contact_ids))).all())

        # Trigger overhead, in this process: the same stores with no active automation and with 20
        # (none matching), alternating, so a growing table weighs on both alike.
        twenty = [_automation(user.account_id, f"/offer-{n}") for n in range(20)]
        ratios = []
        for n in range(4):
            timings = {}
            for status in ("paused", "active"):
                for item in twenty:
                    item.status = status
                db.session.commit()
                triggers.forget(user.account_id)
                timings[status] = _store_seconds(site, contact_ids, f"{status}{n}")
            ratios.append(timings["active"] / timings["paused"])
        if db.session.scalar(select(PageView.id).where(PageView.path == "/pricing")) is not None:
            raise BenchmarkFailed("unexpected page views")

        _automation(user.account_id, "/pricing")
        db.session.commit()
        context = multiprocessing.get_context("fork")
        ready, done = context.Event(), context.Event()
        received_path = Path(env.directory) / "received.txt"
        port = free_port()
        sink = context.Process(target=_sink, args=(port, str(received_path), ready, done), daemon=True)
        sink.start()
        if not ready.wait(30):
            raise BenchmarkFailed("the SMTP sink did not start")
        log_path = Path(env.directory) / "worker.log"
        worker = subprocess.Popen([sys.executable, "-m", "worker", "--no-scheduler"], cwd=PROJECT_ROOT,
                                  env=env.child_environ(MAIL_URL=f"smtp://127.0.0.1:{port}", PUBLIC_URL=PUBLIC_URL),
                                  stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
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
                if received_path.exists() and len(received_path.read_text().splitlines()) >= EVENTS:
                    break
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(30)
            done.set()
            sink.join(10)
        lines = received_path.read_text().splitlines() if received_path.exists() else []
        received = {address: float(at) for address, at in (line.split() for line in lines)}
        if len(received) != EVENTS or redis.xlen(EVENTS_STREAM) < EVENTS:
            raise BenchmarkFailed(f"{len(received)} of {EVENTS} emails arrived; worker log:\n"
                                  + log_path.read_text(errors="replace")[-3000:])
        latencies = sorted((received[address] - at) * 1000 for address, at in pushed.items())
    return {
        "automation_latency_p50_ms": statistics.median(latencies),
        "automation_latency_p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "trigger_overhead_ratio": statistics.median(ratios),
    }
