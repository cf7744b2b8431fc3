"""The automation engine: triggers, filters, re-entry, delays with the clock moved forward, splits,
auto-stop, exactly-once steps under retried jobs, a lost queue, leaving cleanly."""
import itertools
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.automations import engine, schema
from app.contacts import lists, people
from app.extensions import db
from app.models import (Automation, AutomationRun, AutomationStepRun, Contact, Email, Segment, SmsMessage,
                        segment_members)
from app.models.types import utcnow
from app.queues import MESSAGES, get_queue, get_redis
from app.tracking.events import store_records


EVENT_NUMBERS = itertools.count()


def email(subject="Questions?",
          body='<p>Need help? <a href="https://www.shop.example/contact">Talk to us</a></p>'):
    return {"id": schema.new_id(), "kind": "email", "subject": subject, "body": body}


def end():
    return {"id": schema.new_id(), "kind": "end"}


def automation(site, steps, trigger=None, **fields):
    item = Automation(account_id=site.account_id, name="Pricing follow-up", status="draft",
                      trigger=trigger or {"type": "page_view", "op": "contains", "value": "/pricing",
                                          "count": 1, "days": None},
                      steps=steps, filters=fields.pop("filters", []), exit_rules=fields.pop("exit_rules", []),
                      **fields)
    db.session.add(item)
    db.session.flush()
    assert engine.activate(item) == []
    db.session.commit()
    from app.automations import triggers
    triggers.forget(site.account_id)
    return item


def view(site, contact, path="/pricing"):
    """A stored, identified page view, as the worker stores them (the hook fires)."""
    record = {"s": site.id, "a": site.account_id, "u": f"https://www.shop.example{path}", "t": "", "r": "",
              "v": "visitor-0001", "c": "", "e": f"auto-{next(EVENT_NUMBERS)}", "ts": None,
              "rt": int(time.time() * 1000), "ua": "Mozilla/5.0"}
    from app.tracking.cid import make_cid
    record["c"] = make_cid(site.account_id, contact.id)
    assert store_records([json.dumps(record)]) == 1


def runs():
    db.session.rollback()
    return list(db.session.scalars(select(AutomationRun).order_by(AutomationRun.id)))


def test_a_page_view_starts_the_path_and_the_email_is_sent_with_tagged_links(site, contact, run_jobs):
    automation(site, [email(), end()])
    view(site, contact)
    run_jobs()
    (run,) = runs()
    assert run.status == "completed"
    sent = db.session.scalar(select(Email).where(Email.kind == "automation"))
    assert sent.status == "outbox" and sent.contact_id == contact.id and sent.subject == "Questions?"
    assert "/c/" in sent.html_body and "Unsubscribe" in sent.html_body


def test_other_pages_and_paused_automations_start_nothing(site, contact, run_jobs):
    item = automation(site, [email(), end()])
    view(site, contact, "/blog")
    engine.pause(item)
    db.session.commit()
    from app.automations import triggers
    triggers.forget(site.account_id)
    view(site, contact, "/pricing")
    assert runs() == []


def test_at_least_n_views_in_d_days(site, contact, run_jobs):
    automation(site, [email(), end()], trigger={"type": "page_view", "op": "contains", "value": "/pricing",
                                                "count": 2, "days": 30})
    view(site, contact)
    assert runs() == []
    view(site, contact)
    assert len(runs()) == 1


def test_filters_must_hold(site, contact, run_jobs):
    segment = Segment(account_id=site.account_id, name="Customers", rules={"join": "and", "groups": []})
    db.session.add(segment)
    db.session.flush()
    automation(site, [email(), end()], filters=[{"type": "segment", "segment_id": segment.id}])
    view(site, contact)
    assert runs() == []
    db.session.execute(segment_members.insert()
                       .values(segment_id=segment.id, contact_id=contact.id, joined_at=utcnow()))
    db.session.commit()
    view(site, contact)
    assert len(runs()) == 1


@pytest.mark.parametrize("reentry, days, expected",
                         [("once", 30, 1), ("always", 30, 2), ("after_days", 1, 1)])
def test_reentry(site, contact, run_jobs, reentry, days, expected):
    automation(site, [email(), end()], reentry=reentry, reentry_days=days)
    view(site, contact)
    run_jobs()
    view(site, contact)
    assert len(runs()) == expected


def test_never_twice_at_once(site, contact, run_jobs):
    automation(site, [{"id": "wait", "kind": "delay", "amount": 1, "unit": "days"}, email(), end()],
               reentry="always")
    view(site, contact)
    run_jobs()
    view(site, contact)
    assert [run.status for run in runs()] == ["waiting"]


def test_delays_wait_then_the_clock_moves_on(site, contact, run_jobs):
    text = {"id": "text", "kind": "sms", "body": "Still thinking? https://www.shop.example/pricing"}
    contact.phone = "+14155550100"
    db.session.commit()
    item = automation(site,
                      [email(), {"id": "wait", "kind": "delay", "amount": 1, "unit": "days"}, text, end()])
    run = engine.enter(item, contact.id)
    db.session.commit()
    assert engine.advance(run.id) == "waiting"
    assert db.session.get(AutomationRun, run.id).wake_at > utcnow() + timedelta(hours=23)
    assert engine.advance(run.id, now=utcnow() + timedelta(hours=2)) == "waiting"  # too early
    assert engine.advance(run.id, now=utcnow() + timedelta(days=1, minutes=1)) == "completed"
    message = db.session.scalar(select(SmsMessage))
    assert message.to_number == "+14155550100" and "/s/" in message.body


@pytest.mark.parametrize("subscribed, branch", [(True, "yes"), (False, "no")])
def test_splits_choose_a_branch(site, contact, subscribed, branch):
    contact.email_status = "subscribed" if subscribed else "unsubscribed"
    db.session.commit()
    split = {"id": "split", "kind": "split", "condition": {"type": "subscription", "channel": "email"},
             "yes": [{"id": "yes-end", "kind": "end"}], "no": [{"id": "no-end", "kind": "end"}]}
    item = automation(site, [split])
    run = engine.enter(item, contact.id)
    db.session.commit()
    assert engine.advance(run.id) == "completed"
    steps = [(r.step_id, r.outcome)
             for r in db.session.scalars(select(AutomationStepRun).order_by(AutomationStepRun.id))]
    assert steps == [("split", branch), (f"{branch}-end", "end")]


def test_a_split_on_a_click_in_an_earlier_email(site, contact, client, drain, run_jobs):
    first = email()
    split = {"id": "split", "kind": "split", "condition": {"type": "clicked", "step_id": first["id"]},
             "yes": [{"id": "clicked", "kind": "end"}], "no": [{"id": "ignored", "kind": "end"}]}
    item = automation(site, [first, {"id": "wait", "kind": "delay", "amount": 1, "unit": "hours"}, split])
    run = engine.enter(item, contact.id)
    db.session.commit()
    engine.advance(run.id)
    run_jobs()  # delivered: its links redirect
    sent = db.session.scalar(select(Email).where(Email.kind == "automation"))
    link = sent.html_body.split('href="https://footfall.test')[1].split('"')[0]
    assert client.get(link).status_code == 302
    from app.messaging.clicks import CLICKS
    CLICKS.drain(get_redis())
    assert engine.advance(run.id, now=utcnow() + timedelta(hours=2)) == "completed"
    assert db.session.scalar(select(AutomationStepRun.outcome)
                             .where(AutomationStepRun.step_id == "split")) == "yes"


def test_auto_stop_on_a_page_view(site, contact, run_jobs):
    automation(site, [{"id": "wait", "kind": "delay", "amount": 2, "unit": "days"}, email(), end()],
               exit_rules=[{"type": "page_view", "op": "contains", "value": "/thank-you"}])
    view(site, contact)
    run_jobs()
    view(site, contact, "/thank-you")
    (run,) = runs()
    assert (run.status, run.exit_reason) == ("exited", "viewed /thank-you")
    assert db.session.scalar(select(Email).where(Email.kind == "automation")) is None


def test_each_step_runs_once_under_retried_jobs(site, contact, run_jobs):
    item = automation(site, [email(), end()])
    run = engine.enter(item, contact.id)
    db.session.commit()
    for _ in range(3):  # the same job, retried
        get_queue(MESSAGES).enqueue("worker.jobs.automations.advance_run", run.id)
    run_jobs()
    engine.advance(run.id)
    assert db.session.scalar(select(func.count()).select_from(Email).where(Email.kind == "automation")) == 1


def test_a_lost_queue_delays_a_run_but_never_loses_it(site, contact, run_jobs):
    item = automation(site, [{"id": "wait", "kind": "delay", "amount": 1, "unit": "hours"}, email(), end()])
    run = engine.enter(item, contact.id)
    db.session.commit()
    run_jobs()
    get_redis().flushdb()  # the worker and its queues are gone
    db.session.get(AutomationRun, run.id).wake_at = utcnow() - timedelta(minutes=1)  # the hour has passed
    db.session.commit()
    assert engine.wake_due_runs() == [run.id]
    run_jobs()
    assert runs()[0].status == "completed"


def test_an_unsubscribed_contact_leaves_cleanly(site, contact, run_jobs):
    item = automation(site, [email(), end()])
    people.set_subscription(contact, "email", False)
    db.session.commit()
    assert engine.enter(item, contact.id) is not None
    db.session.commit()
    run_jobs()
    assert (runs()[0].status, runs()[0].exit_reason) == ("exited", "unsubscribed from email")


def test_a_deleted_contact_leaves_the_path(site, contact, run_jobs):
    item = automation(site, [{"id": "wait", "kind": "delay", "amount": 1, "unit": "hours"}, email(), end()])
    run = engine.enter(item, contact.id)
    db.session.commit()
    run_id = run.id
    people.delete_contact(db.session.get(Contact, contact.id))
    db.session.commit()
    assert engine.advance(run_id) is None


def test_list_tag_and_segment_triggers(site, contact, run_jobs):
    from app.models import ContactList
    customers = ContactList(account_id=site.account_id, name="Customers")
    db.session.add(customers)
    db.session.flush()
    automation(site, [email("Welcome"), end()], trigger={"type": "list_joined", "list_id": customers.id})
    lists.add_to_list(contact, list_id=customers.id)
    db.session.commit()
    assert len(runs()) == 1
    from app.models import Tag
    vip = Tag(account_id=site.account_id, name="VIP")
    db.session.add(vip)
    db.session.flush()
    automation(site, [email("Tagged"), end()], trigger={"type": "tag_added", "tag_id": vip.id})
    lists.add_tag(contact, "VIP")
    db.session.commit()
    assert len(runs()) == 2
    segment = Segment(account_id=site.account_id, name="All", rules={"join": "and", "groups": [
        {"match": "all", "rules": [{"type": "subscription", "channel": "email", "negate": False}]}]})
    db.session.add(segment)
    db.session.flush()
    automation(site, [email("Joined"), end()], trigger={"type": "segment_joined", "segment_id": segment.id})
    from app.segments import membership
    membership.evaluate(segment)
    assert len(runs()) == 3


def test_activation_lists_what_is_wrong(site):
    item = Automation(account_id=site.account_id, name="x", status="draft",
                      trigger={"type": "list_joined", "list_id": 999},
                      steps=[email(subject=""), {"id": "s", "kind": "split", "condition": {"type": "bogus"},
                                                "yes": [], "no": [end()]}])
    db.session.add(item)
    db.session.flush()
    problems = engine.activate(item)
    assert item.status == "draft"
    assert any("Trigger" in p for p in problems) and any("empty subject" in p for p in problems)
    assert any("yes branch" in p and "does not end" in p for p in problems)
    assert any("rule type" in p for p in problems)


def test_an_email_step_comes_from_the_account_name_or_its_own_from_name(site, contact, run_jobs):
    from app.messaging.mail import build_message
    grace = people.add_contact(site.account_id, "grace@navy.example", "Grace", "Hopper")
    db.session.commit()
    automation(site, [email("Plain"), end()])
    automation(site, [{**email("Named"), "from_name": "Ada at the Shop"}, end()],
               trigger={"type": "page_view", "op": "contains", "value": "/blog", "count": 1, "days": None})
    view(site, contact)
    view(site, grace, "/blog")
    run_jobs()
    sent = {item.subject: item
            for item in db.session.scalars(select(Email).where(Email.kind == "automation"))}
    assert build_message(sent["Plain"])["From"].startswith("Shop <")  # the account's name, not MAIL_FROM's
    assert build_message(sent["Named"])["From"].startswith("Ada at the Shop <")


def test_the_default_from_name_is_one_line_of_at_most_100_characters(site, contact, run_jobs):
    from app.messaging.mail import build_message
    from app.models import Account
    db.session.get(Account, site.account_id).name = "The Shop\nBcc: everyone@example.com " + "x" * 150
    db.session.commit()
    automation(site, [email("Plain"), end()])
    view(site, contact)
    run_jobs()
    sent = db.session.scalar(select(Email).where(Email.kind == "automation"))
    assert sent.status == "outbox" and len(sent.from_name) == 100
    assert sent.from_name.startswith("The Shop Bcc: everyone@example.com x") and "\n" not in sent.from_name
    assert "Bcc" not in build_message(sent).keys()
