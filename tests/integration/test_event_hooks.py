"""Stored page views reach segments and automations exactly once, also when a handler fails and
the batch comes back from the stream (its entries were never acknowledged)."""
import json
import time

import pytest
from sqlalchemy import func, select

from app import subscriptions
from app.automations import triggers
from app.extensions import db
from app.models import AutomationRun, Email, PageView, SegmentMembershipChange, segment_members
from app.queues import get_redis
from app.segments import membership, service as segments
from app.tracking import events
from app.tracking.cid import make_cid
from app.tracking.ingest import EVENTS_STREAM, push_event
from tests.integration.test_automations_engine import automation, email, end


@pytest.fixture
def app_config(app_config):
    return {**app_config, "EVENTS_CLAIM_IDLE_MS": 0}  # a failed batch is read again at once


def pricing_fans(site):
    segment = segments.save(site.account_id, None, "Pricing fans",
                            {"join": "and", "groups": [{"match": "all", "rules": [
        {"type": "visit", "op": "contains", "value": "/pricing", "count_op": "at_least", "count": "1",
         "window": "last_days", "days": "30", "negate": False}]}]})
    db.session.commit()
    return segment


def queue_view(site, contact, event_id="hook-1"):
    record = {"s": site.id, "a": site.account_id, "u": "https://www.shop.example/pricing", "t": "", "r": "",
              "v": "visitor-0001", "c": make_cid(site.account_id, contact.id), "e": event_id, "ts": None,
              "rt": int(time.time() * 1000), "ua": "Mozilla/5.0"}
    push_event(get_redis(), json.dumps(record))


def fail_once(monkeypatch, module, name):
    original = getattr(module, name)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the handler failed")
        return original(*args, **kwargs)
    monkeypatch.setattr(module, name, failing)
    return calls


def outcome(segment):
    db.session.rollback()
    return {
        "page views": db.session.scalar(select(func.count()).select_from(PageView)),
        "members": db.session.scalar(select(func.count()).select_from(segment_members)
                                     .where(segment_members.c.segment_id == segment.id)),
        "joins": db.session.scalar(select(func.count()).select_from(SegmentMembershipChange)
                                   .where(SegmentMembershipChange.change == "joined")),
        "runs": db.session.scalar(select(func.count()).select_from(AutomationRun)),
        "emails": db.session.scalar(select(func.count()).select_from(Email)
                                    .where(Email.kind == "automation")),
    }


EXACTLY_ONCE = {"page views": 1, "members": 1, "joins": 1, "runs": 1, "emails": 1}


@pytest.mark.parametrize("failing", ["segments", "automations"])
def test_a_handler_failing_once_still_delivers_the_view_to_both_exactly_once(site, contact, run_jobs,
                                                                             monkeypatch, failing):
    segment = pricing_fans(site)
    automation(site, [email(), end()], reentry="always")  # only the page view can stop a second run
    if failing == "segments":
        calls = fail_once(monkeypatch, membership, "enqueue")  # as if Redis failed it
    else:
        calls = fail_once(monkeypatch, triggers, "account_rules")
    queue_view(site, contact)
    redis = get_redis()
    # The batch fails; while the database and Redis answer, it is tried again at once (the view is
    # stored already: the receivers run again), and nothing is set aside.
    assert events.drain(redis) == 1
    run_jobs()
    assert len(calls) >= 2
    assert outcome(segment) == EXACTLY_ONCE
    assert redis.xpending(EVENTS_STREAM, "store")["pending"] == 0
    assert redis.xlen(events.PAGE_VIEWS.dead_letters) == 0


def test_a_batch_handed_over_twice_after_its_hooks_ran_counts_once(site, contact, run_jobs):
    segment = pricing_fans(site)
    automation(site, [email(), end()], reentry="always")  # only the page view can stop a second run
    record = {"s": site.id, "a": site.account_id, "u": "https://www.shop.example/pricing", "t": "", "r": "",
              "v": "visitor-0001", "c": make_cid(site.account_id, contact.id), "e": "hook-twice", "ts": None,
              "rt": int(time.time() * 1000), "ua": "Mozilla/5.0"}
    assert events.store_records([json.dumps(record)]) == 1
    run_jobs()
    assert events.store_records([json.dumps(record)]) == 0  # a consumer killed before acknowledging
    run_jobs()
    assert outcome(segment) == EXACTLY_ONCE


def test_a_view_handed_over_again_stops_no_run_that_began_after_it(site, contact, run_jobs):
    item = automation(site, [{"id": "wait", "kind": "delay", "amount": 1, "unit": "days"}, email(), end()],
                      exit_rules=[{"type": "page_view", "op": "contains", "value": "/thanks"}])
    thanks = {"s": site.id, "a": site.account_id, "u": "https://www.shop.example/thanks", "t": "", "r": "",
              "v": "visitor-0001", "c": make_cid(site.account_id, contact.id), "e": "hook-thanks", "ts": None,
              "rt": int(time.time() * 1000) - 60_000, "ua": "Mozilla/5.0"}
    assert events.store_records([json.dumps(thanks)]) == 1  # a minute ago: no run to stop yet
    queue_view(site, contact)
    events.drain(get_redis())  # /pricing: the run begins, and waits
    assert events.store_records([json.dumps(thanks)]) == 0  # the /thanks batch comes back
    db.session.rollback()
    (run,) = db.session.scalars(select(AutomationRun).where(AutomationRun.automation_id == item.id))
    assert run.status == "waiting"


def test_a_later_view_in_the_same_batch_still_stops_the_run_its_earlier_view_began(site, contact):
    item = automation(site, [{"id": "wait", "kind": "delay", "amount": 1, "unit": "days"}, email(), end()],
                      exit_rules=[{"type": "page_view", "op": "contains", "value": "/thanks"}])
    now = int(time.time() * 1000)
    records = [{"s": site.id, "a": site.account_id, "u": f"https://www.shop.example{path}", "t": "", "r": "",
                "v": "visitor-0001", "c": make_cid(site.account_id, contact.id), "e": f"batch-{path}",
                "ts": None, "rt": now - 5_000 + offset, "ua": "Mozilla/5.0"}
               for path, offset in (("/pricing", 0), ("/thanks", 2_000))]
    assert events.store_records([json.dumps(record) for record in records]) == 2  # stored late, together
    db.session.rollback()
    (run,) = db.session.scalars(select(AutomationRun).where(AutomationRun.automation_id == item.id))
    assert (run.status, run.exit_reason) == ("exited", "viewed /thanks")


def test_the_receivers_are_connected_once_in_order(app, app_config):
    from app import create_app
    from app.signals import page_views_stored

    create_app(app_config)  # connecting again (each app) changes nothing
    assert list(page_views_stored.receivers_for(None)) == [membership.queue_incremental_updates,
                                                          triggers.on_page_views, subscriptions.on_page_views]
