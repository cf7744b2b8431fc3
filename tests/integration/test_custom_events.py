"""Custom events in segments: an event rule binds name, property, count and window to the same
events, is kept current by the worker when events are stored, and reads in words; events are
erased with their contact and anonymous ones expire with the anonymous page views."""

import json
import time
from datetime import timedelta

from sqlalchemy import func, select

from app import privacy
from app.extensions import db
from app.models import CustomEvent, segment_members
from app.models.types import utcnow
from app.queues import get_redis
from app.segments import rules, service as segments
from app.tracking import custom_events, events, retention
from app.tracking.ingest import push_event
from tests.conftest import make_contact


def queue(account_id: int, contact_id: int, name: str, properties: dict, days_ago: float = 0, sender_id=None):
    push_event(
        get_redis(),
        custom_events.api_record(
            account_id,
            contact_id,
            name,
            properties,
            utcnow() - timedelta(days=days_ago),
            custom_events.api_event_id(account_id, sender_id),
        ),
    )


def rule(**overrides) -> dict:
    return {
        "type": "event",
        "name": "order.placed",
        "count_op": "at_least",
        "count": "1",
        "window": "last_days",
        "days": "30",
        "negate": False,
        **overrides,
    }


def tree(*rules) -> dict:
    return {"join": "and", "groups": [{"match": "all", "rules": list(rules)}]}


def members(segment) -> set[int]:
    db.session.expire_all()
    return set(
        db.session.scalars(
            select(segment_members.c.contact_id).where(segment_members.c.segment_id == segment.id)
        )
    )


def test_an_event_rule_counts_matching_events_in_the_window(site, run_jobs):
    account_id = site.account_id
    big, small, old, none = (
        make_contact(account_id, f"{who}@customer.example") for who in ("big", "small", "old", "none")
    )
    big_spenders = segments.save(
        account_id,
        None,
        "Big spenders",
        tree(rule(property="total", property_op="gt", property_value="100", count="2")),
    )
    pro = segments.save(
        account_id,
        None,
        "Pro sign-ups",
        tree(rule(name="signup", property="plan", property_op="is", property_value="pro", window="ever")),
    )
    quiet = segments.save(account_id, None, "No orders", tree(rule(negate=True)))
    db.session.commit()
    for total in (150, 250.5):
        queue(account_id, big.id, "order.placed", {"total": total})
    queue(account_id, small.id, "order.placed", {"total": 150})
    queue(account_id, small.id, "order.placed", {"total": "999"})  # text, not a number
    queue(account_id, old.id, "order.placed", {"total": 500}, days_ago=40)
    queue(account_id, old.id, "order.placed", {"total": 500}, days_ago=41)
    queue(account_id, small.id, "signup", {"plan": "pro"}, days_ago=200)
    queue(account_id, big.id, "signup", {"plan": "professional"})
    events.drain(get_redis())
    run_jobs()  # the segments' jobs, queued when the events were stored
    assert members(big_spenders) == {big.id}
    assert members(pro) == {small.id}
    assert members(quiet) == {old.id, none.id}  # (kept current on save, then for the events' contacts)
    assert (
        rules.describe_rule(big_spenders.rules["groups"][0]["rules"][0], {})
        == "did order.placed with total is more than 100 at least 2 times in the last 30 days"
    )


def test_an_event_sent_twice_is_stored_once_and_a_wrong_record_is_dropped(site):
    contact = make_contact(site.account_id)
    queue(site.account_id, contact.id, "signup", {}, sender_id="signup-7")
    queue(site.account_id, contact.id, "signup", {}, sender_id="signup-7")
    push_event(
        get_redis(),
        json.dumps(
            {
                "src": "api",
                "a": site.account_id,
                "ct": contact.id,
                "n": "x y",
                "e": "bad",
                "rt": int(time.time() * 1000),
            }
        ),
    )
    events.drain(get_redis())
    assert db.session.scalar(select(func.count()).select_from(CustomEvent)) == 1


def test_events_are_erased_with_their_contact_and_anonymous_ones_expire(site, contact):
    queue(site.account_id, contact.id, "signup", {"plan": "pro"})
    events.drain(get_redis())
    assert privacy.export_contact(site.account_id, contact.id)["events"][0]["name"] == "signup"
    db.session.add(
        CustomEvent(
            event_id="anonymous-1",
            account_id=site.account_id,
            site_id=site.id,
            visitor_id="v1",
            source="website",
            name="viewed_video",
            properties={},
            occurred_at=utcnow() - timedelta(days=31),
            received_at=utcnow() - timedelta(days=31),
        )
    )
    db.session.commit()
    retention.delete_expired_anonymous()
    assert db.session.scalars(select(CustomEvent.name)).all() == ["signup"]
    privacy.erase_contact(site.account_id, contact.id)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(CustomEvent)) == 0


def test_the_rule_is_checked(site):
    for wrong, message in (
        (rule(name=""), "event's name"),
        (rule(property="a b"), "property's name"),
        (rule(property="total", property_op="gt", property_value="lots"), "number"),
    ):
        try:
            rules.validate_rule(wrong, {})
        except rules.RuleError as error:
            assert message in str(error)
        else:
            raise AssertionError(f"{wrong} was accepted")


# ---- automations -----------------------------------------------------------------------------------


def _automation(site, trigger, steps, **fields):
    from app.automations import engine
    from app.models import Automation

    item = Automation(
        account_id=site.account_id,
        name="Onboarding",
        status="draft",
        trigger=trigger,
        steps=steps,
        filters=[],
        exit_rules=fields.pop("exit_rules", []),
        **fields,
    )
    db.session.add(item)
    db.session.flush()
    assert engine.activate(item) == []
    db.session.commit()
    return item


def _runs():
    from app.models import AutomationRun

    db.session.rollback()
    return list(db.session.scalars(select(AutomationRun).order_by(AutomationRun.id)))


def test_an_event_starts_an_automation_once_and_a_split_reads_events(site, run_jobs):
    from app.automations import schema

    ada = make_contact(site.account_id, "ada@customer.example")
    bob = make_contact(site.account_id, "bob@customer.example")
    split = {
        "id": schema.new_id(),
        "kind": "split",
        "condition": rules.validate_rule(rule(name="order.placed", window="ever"), {}),
        "yes": [
            {"id": "tag-buyer", "kind": "tag", "action": "add", "tag": "buyer"},
            {"id": "e1", "kind": "end"},
        ],
        "no": [
            {"id": "tag-browser", "kind": "tag", "action": "add", "tag": "browser"},
            {"id": "e2", "kind": "end"},
        ],
    }
    _automation(
        site,
        {"type": "event", "name": "signup", "property": "plan", "property_op": "is", "property_value": "pro"},
        [split],
        reentry="always",
    )
    queue(site.account_id, ada.id, "order.placed", {"total": 10})
    queue(site.account_id, ada.id, "signup", {"plan": "pro"}, sender_id="ada-signup")
    queue(site.account_id, bob.id, "signup", {"plan": "pro"})
    queue(site.account_id, bob.id, "signup", {"plan": "free"})  # the property does not match
    queue(site.account_id, bob.id, "signup", {"plan": "pro"}, days_ago=3)  # history: starts nothing
    events.drain(get_redis())
    queue(site.account_id, ada.id, "signup", {"plan": "pro"}, sender_id="ada-signup")  # sent again
    events.drain(get_redis())
    run_jobs()
    runs = _runs()
    assert sorted(run.contact_id for run in runs) == [ada.id, bob.id]
    db.session.expire_all()
    assert [tag.name for tag in db.session.get(type(ada), ada.id).tags] == ["buyer"]
    assert [tag.name for tag in db.session.get(type(bob), bob.id).tags] == ["browser"]


def test_an_event_stops_a_run_by_its_auto_stop_rule(site, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example")
    wait = {"id": "wait", "kind": "delay", "amount": 3, "unit": "days"}
    _automation(
        site,
        {"type": "event", "name": "trial.started"},
        [wait, {"id": "end", "kind": "end"}],
        exit_rules=[{"type": "event", "name": "order.placed"}],
    )
    queue(site.account_id, ada.id, "trial.started", {})
    events.drain(get_redis())
    run_jobs()
    assert [run.status for run in _runs()] == ["waiting"]
    queue(site.account_id, ada.id, "order.placed", {})
    events.drain(get_redis())
    (run,) = _runs()
    assert run.status == "exited" and "order.placed" in run.exit_reason
