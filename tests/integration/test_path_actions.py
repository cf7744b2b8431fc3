"""Path actions: tags, lists, a contact field, an email to the team, a webhook call and goals, each
with its effect on the contact (or the receiver), its words in the journey, and its settings checked
with a clear message."""
import hashlib
import hmac
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.automations import engine, schema, service
from app.automations.schema import AutomationError
from app.contacts import fields, lists
from app.extensions import db
from app.models import (AutomationRun, Contact, ContactList, Email, Segment, WebhookDelivery, segment_members)
from app.models.types import utcnow
from app.privacy import erase_contact
from app.segments.service import checked_tree
from tests.conftest import make_contact, make_user
from tests.integration.test_automations_engine import automation, email, end, runs, view
from tests.support import smtp_server, webhook_receiver


def step(kind, **settings):
    return {"id": schema.new_id(), "kind": kind, **settings}


def outcomes(item, contact) -> list[str]:
    db.session.rollback()
    return [entry["outcome"] for entry in engine.journey(item, contact.id)]


def make_list(site, name):
    made = ContactList(account_id=site.account_id, name=name)
    db.session.add(made)
    db.session.commit()
    return made


def fresh(contact) -> Contact:
    db.session.rollback()
    return db.session.get(Contact, contact.id)


def test_tags_and_lists_change_the_contact_and_start_other_automations(site, contact, run_jobs):
    customers, old = make_list(site, "Customers"), make_list(site, "Old leads")
    lists.add_to_list(contact, list_id=old.id)
    lists.add_tag(contact, "cold")
    db.session.commit()
    item = automation(site, [step("tag", action="add", tag="hot"), step("tag", action="remove", tag="cold"),
                             step("list", action="add", list_id=customers.id),
                             step("list", action="remove", list_id=old.id), end()])
    hot = lists.add_tag(make_contact(site.account_id, "other@customer.example"), "hot")
    db.session.commit()
    on_tag = automation(site, [email("You are hot"), end()], trigger={"type": "tag_added", "tag_id": hot.id})
    on_list = automation(site, [email("Welcome, customer"), end()],
                         trigger={"type": "list_joined", "list_id": customers.id})
    view(site, contact)
    run_jobs()

    person = fresh(contact)
    assert sorted(tag.name for tag in person.tags) == ["hot"]
    assert [member_of.name for member_of in person.lists] == ["Customers"]
    assert outcomes(item, contact) == ["tagged hot", "tag cold removed", "added to the list Customers",
                                       "removed from the list Old leads", "end"]
    started = {run.automation_id for run in runs() if run.contact_id == contact.id}
    assert started == {item.id, on_tag.id, on_list.id}
    subjects = set(db.session.scalars(select(Email.subject).where(Email.kind == "automation")))
    assert subjects == {"You are hot", "Welcome, customer"}


def test_a_path_that_adds_to_its_own_list_never_runs_twice(site, contact, run_jobs):
    members = make_list(site, "Members")
    item = automation(site, [step("list", action="remove", list_id=members.id),
                             step("list", action="add", list_id=members.id), end()],
                      trigger={"type": "list_joined", "list_id": members.id}, reentry="always")
    lists.add_to_list(contact, list_id=members.id)
    db.session.commit()
    run_jobs()
    assert [(run.automation_id, run.status) for run in runs()] == [(item.id, "completed")]
    assert outcomes(item, contact)[:2] == ["removed from the list Members", "added to the list Members"]


def test_a_field_is_set_cleared_and_added_to_and_segments_follow(site, contact, run_jobs):
    score = fields.create_field(site.account_id, "Score", "number")
    contact.custom, contact.birthday = {"score": 10}, "1990-03-15"
    segment = Segment(account_id=site.account_id, name="High scores", rules=checked_tree(site.account_id, {
        "join": "and", "groups": [{"match": "all", "rules": [
            {"type": "field", "field": "score", "op": "gt", "value": "12"}]}]}))
    db.session.add(segment)
    db.session.commit()
    item = automation(site, [step("field", field="company", action="set", value="Analytical Engines"),
                             step("field", field=score.key, action="add", value=5),
                             step("field", field="birthday", action="clear", value=""), end()])
    view(site, contact)
    run_jobs()
    person = fresh(contact)
    assert (person.company, person.custom, person.birthday) == ("Analytical Engines", {"score": 15}, "")
    assert outcomes(item, contact)[:3] == ["Company set to Analytical Engines", "Score set to 15",
                                           "Birthday cleared"]
    assert db.session.scalar(select(segment_members.c.contact_id)
                             .where(segment_members.c.segment_id == segment.id)) == contact.id


def test_bad_action_settings_get_a_clear_message(site, contact):
    ours = make_list(site, "Ours")
    theirs = ContactList(account_id=make_user("else@else.example", account_name="Else").account_id,
                         name="Theirs")
    db.session.add(theirs)
    score = fields.create_field(site.account_id, "Score", "number")
    db.session.commit()
    item = automation(site, [step("list", action="add", list_id=ours.id), end()])
    engine.pause(item)
    db.session.commit()
    path_steps = item.steps

    def refused(kind, **form):
        added = service.add_step(item, kind, after=path_steps[0]["id"])
        with pytest.raises(AutomationError) as error:
            service.edit_step(item, added["id"], form)
        db.session.rollback()
        return str(error.value)

    assert refused("list", action="add", list_id=str(theirs.id)) == "Choose one of your lists."
    assert refused("tag", action="add", tag="  ") == "Enter the tag, under 60 characters."
    assert refused("field", field="email", action="set", value="x@y.z") == "Choose the field to update."
    assert refused("field", field="company", action="add", value="3") == \
        "Choose to set or clear the field (or add to a number field)."
    assert refused("field", field="birthday", action="set", value="31 February") .startswith("Birthday: ")
    assert refused("field", field=score.key, action="set", value="") == "Enter the value to set."
    assert refused("notify", to="sales@shop.example, not-an-address") == \
        "“not-an-address” is not a valid email address."
    assert refused("notify", to="") == "Enter the addresses to notify."
    assert refused("webhook", url="ftp://hooks.example/x") == "The address must start with https://."
    assert refused("webhook", url="https://[::1") == "That is not a web address."
    assert refused("webhook", url="https://user:secret@hooks.example/x") == \
        "Leave the user name and password out of the address."
    assert refused("goal", condition={"type": "clicked", "step_id": path_steps[0]["id"]}).startswith(
        "A goal is met by")
    added = service.add_step(item, "webhook", after=path_steps[0]["id"])
    db.session.commit()
    assert "Call a webhook" in " ".join(engine.activate(item))  # no address yet
    assert added["secret"].startswith("whsec_")


def test_the_team_hears_about_the_contact_with_their_recent_views_at_most_hourly(app, site, contact,
                                                                                 run_jobs):
    item = automation(site, [step("notify", to=["sales@shop.example", "boss@shop.example"]), end()],
                      trigger={"type": "page_view", "op": "contains", "value": "/pricing", "count": 3,
                               "days": 1},
                      reentry="always")
    with smtp_server() as (controller, handler):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        view(site, contact, "/features")
        for _ in range(3):
            view(site, contact)
        run_jobs()
        recipients = sorted(rcpts[0] for rcpts, _ in handler.messages)
        assert recipients == ["boss@shop.example", "sales@shop.example"]
        message = handler.messages[0][1]
        assert message["Subject"] == "Ada Lovelace viewed /pricing 3 times in the last day"
        text = message.get_body(("plain",)).get_content()
        assert "/pricing: 3 views" in text and "/features: 1 view" in text
        assert f"https://footfall.test/contacts/{contact.id}" in text and "ada@customer.example" in text
        view(site, contact)  # a fourth view: another run, within the hour
        run_jobs()
        assert len(handler.messages) == 2
    assert outcomes(item, contact)[0].startswith("not sent: the team heard about this contact less than 60")


def _signed(headers: dict, body: bytes, secret: str) -> bool:
    stamp, given = (part.split("=", 1)[1] for part in headers["Footfall-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


def test_a_webhook_is_signed_retried_until_accepted_and_shown_in_the_journey(site, contact, run_jobs):
    with webhook_receiver(statuses=[500, 503]) as (url, received):
        hook = step("webhook", url=f"{url}/footfall", secret="whsec_test")
        item = automation(site, [hook, end()])
        view(site, contact)
        run_jobs()
    assert len(received) == 3  # two failures, then accepted: tried no more
    assert len({headers["Footfall-Event-Id"] for _, headers, _ in received}) == 1
    assert all(_signed(headers, body, "whsec_test") for _, headers, body in received)
    payload = received.bodies()[0]
    assert payload["type"] == "automation.step" and payload["id"] == received[0][1]["Footfall-Event-Id"]
    assert payload["data"]["contact"]["email"] == "ada@customer.example"
    assert payload["data"]["contact"]["first_name"] == "Ada"
    assert payload["data"]["trigger"]["value"] == "/pricing"
    assert payload["data"]["page_view"]["url"] == "https://www.shop.example/pricing"
    for moment in (payload["created_at"], payload["data"]["page_view"]["viewed_at"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", moment), moment
    assert outcomes(item, contact)[0] == "webhook delivered (200) after 3 tries"


def test_a_webhook_that_keeps_failing_gives_up_and_says_why(site, contact, run_jobs):
    with webhook_receiver(statuses=[500] * 10) as (url, received):
        item = automation(site, [step("webhook", url=url, secret="whsec_test"), end()])
        view(site, contact)
        run_jobs()
    assert len(received) == 4  # the first try and WEBHOOK_RETRY_DELAYS' three
    assert outcomes(item, contact)[0] == \
        "webhook failed after 4 tries: The receiver answered 500 Internal Server Error."
    assert runs()[0].status == "completed"  # the path does not wait for the receiver


def test_in_production_a_webhook_never_reaches_a_private_address(app, site, contact, run_jobs):
    with webhook_receiver() as (url, received):
        item = automation(site, [step("webhook", url=url.replace("http:", "https:"), secret="s"), end()])
        app.config["FOOTFALL_ENV"] = "production"
        view(site, contact)
        run_jobs()
    assert received == []
    assert outcomes(item, contact)[0].endswith("Private and loopback addresses cannot be called.")


def test_a_goal_met_while_waiting_skips_the_reminder(site, contact, run_jobs):
    other = make_contact(site.account_id, "grace@customer.example", first_name="Grace")
    goal = step("goal", condition=dict(schema.NEW_GOAL))
    item = automation(site, [email("Thanks for looking"), step("delay", amount=3, unit="days"),
                             email("Still deciding?"), goal, email("Welcome aboard"), end()])
    view(site, contact)
    view(site, other)
    run_jobs()
    assert [run.status for run in runs()] == ["waiting", "waiting"]
    view(site, contact, "/thanks")  # Ada buys: she jumps to the goal
    run_jobs()
    for run in runs():  # three days later
        if run.wake_at:
            run.wake_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    engine.wake_due_runs()
    run_jobs()
    sent = dict(db.session.execute(select(Email.to_address, func.group_concat(Email.subject)
                                          if db.engine.dialect.name == "sqlite"
                                          else func.string_agg(Email.subject, ","))
                                   .where(Email.kind == "automation").group_by(Email.to_address)).all())
    assert sorted(sent["ada@customer.example"].split(",")) == ["Thanks for looking", "Welcome aboard"]
    assert sorted(sent["grace@customer.example"].split(",")) == ["Still deciding?", "Thanks for looking",
                                                                  "Welcome aboard"]
    assert "goal met" in outcomes(item, contact)
    assert "passed: the goal was not met" in outcomes(item, other)
    assert engine.report(item)["done"][goal["id"]] == 1  # met by Ada; Grace passed it


def test_at_most_50_steps_a_path(site):
    item = automation(site, [end()])
    engine.pause(item)
    steps = item.steps
    for _ in range(schema.MAX_STEPS - 1):
        schema.insert_step(steps, "tag")
    with pytest.raises(AutomationError, match="at most 50 steps"):
        schema.insert_step(steps, "webhook")


def test_erasing_a_contact_erases_the_calls_and_team_emails_about_them(site, contact, run_jobs):
    with webhook_receiver(statuses=[500] * 10) as (url, _):
        automation(site, [step("notify", to=["sales@shop.example"]), step("webhook", url=url, secret="s"),
                          end()])
        view(site, contact)
        run_jobs()
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
    assert db.session.scalar(select(func.count()).select_from(Email)
                             .where(Email.kind == "team_notification")) == 1
    assert erase_contact(site.account_id, contact.id)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert db.session.scalar(select(func.count()).select_from(Email)) == 0
    assert db.session.scalar(select(func.count()).select_from(AutomationRun)) == 0


def test_a_webhook_call_whose_job_was_lost_is_made_by_the_sweep(site, contact, run_jobs):
    from app import webhooks
    from app.queues import get_redis

    with webhook_receiver() as (url, received):
        item = automation(site, [step("webhook", url=url, secret="s"), end()])
        view(site, contact)
        get_redis().flushdb()  # the queued call is lost with Redis
        run_jobs()
        assert received == [] and outcomes(item, contact)[0] == "webhook queued"
        assert webhooks.retry_stalled() == []  # not overdue yet
        delivery = db.session.scalar(select(WebhookDelivery))
        delivery.next_attempt_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
        assert webhooks.retry_stalled() == [delivery.id]
        run_jobs()
    assert len(received) == 1 and outcomes(item, contact)[0] == "webhook delivered (200) after 1 try"


def test_a_goal_met_while_a_worker_moves_the_run_on_is_not_overwritten(app, site, contact, run_jobs,
                                                                        monkeypatch):
    """The worker wakes the run and finds the goal unmet; meanwhile the event consumer stores the
    /thanks view and makes the run jump. The worker's next commit must not put the run back."""
    import threading

    goal = step("goal", condition=dict(schema.NEW_GOAL))
    item = automation(site, [email("Thanks for looking"), step("delay", amount=3, unit="days"),
                             email("Still deciding?"), goal, email("Welcome aboard"), end()])
    view(site, contact)
    run_jobs()
    (run,) = runs()
    run.wake_at = utcnow() - timedelta(minutes=1)  # three days later
    db.session.commit()
    run_id, account_id, site_id, contact_id = run.id, site.account_id, site.id, contact.id

    checked, resume = threading.Event(), threading.Event()
    reach_goal = engine._reach_goal

    def slow_worker(automation_, run_):
        met = reach_goal(automation_, run_)
        if threading.current_thread().name == "worker":
            checked.set()
            resume.wait(10)
        return met

    monkeypatch.setattr(engine, "_reach_goal", slow_worker)

    def worker():
        with app.app_context():
            engine.advance(run_id)
            db.session.remove()

    thread = threading.Thread(target=worker, name="worker")
    thread.start()
    assert checked.wait(10)
    with app.app_context():  # the consumer, meanwhile
        from types import SimpleNamespace
        view(SimpleNamespace(id=site_id, account_id=account_id), SimpleNamespace(id=contact_id), "/thanks")
        db.session.remove()
    resume.set()
    thread.join(30)
    run_jobs()
    subjects = list(db.session.scalars(select(Email.subject).where(Email.kind == "automation")
                                       .order_by(Email.id)))
    assert subjects == ["Thanks for looking", "Welcome aboard"]  # the reminder the goal skips is never sent
    assert "goal met" in outcomes(item, contact) and runs()[0].status == "completed"


def test_team_emails_are_one_line_and_capped_per_account(app, site, contact, run_jobs):
    contact.first_name = "Ada\u2028Bcc: everyone@example.com"  # (as an import may bring it)
    db.session.commit()
    item = automation(site, [step("notify", to=["sales@shop.example"]), end()], reentry="always")
    view(site, contact)
    run_jobs()
    (subject,) = db.session.scalars(select(Email.subject).where(Email.kind == "team_notification"))
    assert subject == "Ada Bcc: everyone@example.com Lovelace viewed /pricing once in the last day"
    assert db.session.scalar(select(Email.status).where(Email.kind == "team_notification")) != "failed"

    other = make_contact(site.account_id, "grace@customer.example", first_name="Grace")
    app.config["TEAM_NOTIFY_PER_HOUR"] = 1
    view(site, other)
    run_jobs()
    assert outcomes(item, other)[0] == "not sent: the account's 1 team emails an hour are used up"


def test_a_webhook_call_cut_short_every_time_is_given_up(site, contact):
    from app import webhooks
    from app.queues import get_redis

    with webhook_receiver() as (url, received):
        item = automation(site, [step("webhook", url=url, secret="s"), end()])
        view(site, contact)
        get_redis().flushdb()
        delivery = db.session.scalar(select(WebhookDelivery))
        delivery.attempts = 7  # tries begun and never finished: a worker killed during each
        db.session.commit()
        webhooks.deliver(delivery.id, final_attempt=False)
    assert received == []
    assert outcomes(item, contact)[0] == \
        "webhook failed after 8 tries: Every try was cut short (the worker stopped during it)."


def test_a_goal_reached_in_order_counts_as_met_when_it_holds_by_then(site, contact, run_jobs):
    goal = step("goal", condition={"type": "field", "negate": False, "field": "company", "op": "contains",
                                   "value": "Acme"})
    item = automation(site, [step("field", field="company", action="set", value="Acme Ltd"), goal, end()])
    view(site, contact)
    run_jobs()
    assert outcomes(item, contact) == ["Company set to Acme Ltd", "goal met", "end"]
    assert engine.report(item)["done"][goal["id"]] == 1
