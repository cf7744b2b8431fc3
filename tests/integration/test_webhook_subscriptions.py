"""Webhook subscriptions: a real receiver (a local HTTP server) gets each event type it asked for
once, signed with the subscription's secret; a receiver failing twice then accepting gets the
event exactly once more; an event announced again makes no second delivery; a day of failures
pauses the subscription and emails the account's users; "send again" makes a delivery again."""

from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from app import subscriptions
from app.contacts import people
from app.extensions import db
from app.messaging.clicks import CLICKS
from app.messaging.rendering import Message, Renderer
from app.models import Campaign, Email, WebhookDelivery
from app.models.types import utcnow
from app.queues import enqueue, get_redis
from app.segments import service as segments
from app.tracking import custom_events, events
from app.tracking.cid import make_cid
from app.tracking.ingest import push_event
from tests.conftest import make_contact
from tests.integration.test_ingest import beacon, post
from tests.integration.test_path_actions import _signed
from tests.support import free_port, webhook_receiver

PRICING = {
    "join": "and",
    "groups": [
        {
            "match": "all",
            "rules": [
                {
                    "type": "visit",
                    "op": "contains",
                    "value": "/pricing",
                    "count_op": "at_least",
                    "count": "1",
                    "window": "last_days",
                    "days": "30",
                    "negate": False,
                }
            ],
        }
    ],
}


def subscribe(account_id: int, url: str, events=tuple(subscriptions.EVENT_TYPES)):
    subscription, secret = subscriptions.create(account_id, url, list(events))
    db.session.commit()
    return subscription, secret


def test_each_event_type_reaches_the_receiver_once_signed(app, site, client, user, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada", phone="+14155550123")
    segments.save(site.account_id, None, "Pricing fans", PRICING)
    not_yet = {
        **PRICING,
        "groups": [{"match": "all", "rules": [{**PRICING["groups"][0]["rules"][0], "negate": True}]}],
    }
    segments.save(site.account_id, None, "Not on pricing yet", not_yet)
    db.session.commit()
    run_jobs()
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens: the email fails
    with webhook_receiver() as (url, received):
        _, secret = subscribe(site.account_id, f"{url}/hooks")
        # identified on the website, then a page view: contact.identified, page_view.identified,
        # and (their jobs) segment.joined and segment.left
        assert (
            post(
                client,
                beacon(site, c=make_cid(site.account_id, ada.id), u="https://www.shop.example/pricing"),
            ).status_code
            == 204
        )
        events.drain(get_redis())
        push_event(
            get_redis(),
            custom_events.api_record(site.account_id, ada.id, "signup", {"plan": "pro"}, None, "signup-1"),
        )
        events.drain(get_redis())
        campaign = Campaign(
            account_id=site.account_id, name="Sale", subject="Sale", status="sent", started_at=utcnow()
        )
        db.session.add(campaign)
        db.session.commit()
        link = Renderer(Message.of_campaign(campaign), "https://footfall.test").link(
            "https://www.shop.example/sale", ada, "email"
        )
        assert client.get(urlsplit(link).path).status_code == 302
        CLICKS.drain(get_redis())
        people.set_subscription(db.session.get(type(ada), ada.id), "sms", False)
        db.session.commit()
        failing = Email(
            account_id=site.account_id,
            contact_id=ada.id,
            campaign_id=campaign.id,
            kind="campaign",
            to_address=ada.email,
            subject="Sale",
            text_body="Sale",
            html_body="<p>Sale</p>",
            status="queued",
        )
        db.session.add(failing)
        db.session.commit()
        enqueue("worker.jobs.messages.deliver_email", failing.id)
        run_jobs()
    types = [body["type"] for body in received.bodies()]
    assert sorted(types) == sorted(subscriptions.EVENT_TYPES), types
    assert all(path == "/hooks" and _signed(headers, body, secret) for path, headers, body in received)
    assert all(body["data"]["contact"]["email"] == "ada@customer.example" for body in received.bodies())
    by_type = {body["type"]: body for body in received.bodies()}
    assert by_type["event.custom"]["data"]["event"]["properties"] == {"plan": "pro"}
    assert by_type["segment.joined"]["data"]["segment"]["name"] == "Pricing fans"
    assert by_type["segment.left"]["data"]["segment"]["name"] == "Not on pricing yet"
    assert by_type["page_view.identified"]["data"]["page_view"]["path"] == "/pricing"
    assert by_type["link.clicked"]["data"]["click"]["url"] == "https://www.shop.example/sale"
    assert by_type["contact.unsubscribed"]["data"]["channel"] == "sms"
    assert by_type["message.failed"]["data"]["message"]["channel"] == "email"
    assert by_type["contact.identified"]["data"]["browser"]["identified_by"] == "email"
    assert all(
        headers["Footfall-Event-Id"] == body["id"]
        for (_, headers, _), body in zip(received, received.bodies(), strict=True)
    )


def test_a_receiver_failing_twice_gets_the_event_exactly_once_more(site, contact, run_jobs):
    with webhook_receiver(statuses=[500, 502]) as (url, received):
        subscription, _ = subscribe(site.account_id, url, ["event.custom"])
        push_event(
            get_redis(), custom_events.api_record(site.account_id, contact.id, "signup", {}, None, "x")
        )
        events.drain(get_redis())
        run_jobs()
    assert len(received) == 3 and len({headers["Footfall-Event-Id"] for _, headers, _ in received}) == 1
    (delivery,) = subscriptions.deliveries(subscription)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    db.session.refresh(subscription)
    assert subscription.failing_since is None and subscription.active


def test_an_event_announced_again_makes_no_second_delivery(site, contact, run_jobs):
    with webhook_receiver() as (url, received):
        subscribe(site.account_id, url, ["event.custom"])
        push_event(
            get_redis(), custom_events.api_record(site.account_id, contact.id, "signup", {}, None, "x")
        )
        events.drain(get_redis())
        # the batch comes back (its worker died after storing it): announced again
        push_event(
            get_redis(), custom_events.api_record(site.account_id, contact.id, "signup", {}, None, "x")
        )
        events.drain(get_redis())
        run_jobs()
    assert len(received) == 1
    assert len(db.session.scalars(select(WebhookDelivery)).all()) == 1


def test_a_day_of_failures_pauses_it_and_emails_the_owner_then_send_again(app, site, contact, user, run_jobs):
    with webhook_receiver(statuses=[500] * 20) as (url, received):
        subscription, _ = subscribe(site.account_id, url, ["contact.unsubscribed"])
        subscription.failing_since = utcnow() - timedelta(days=1, minutes=1)  # failing since yesterday
        db.session.commit()
        people.set_subscription(db.session.get(type(contact), contact.id), "email", False)
        db.session.commit()
        run_jobs()
        tries = len(received)
        db.session.refresh(subscription)
        assert not subscription.active and "failed for a day" in subscription.paused_reason
        notice = db.session.scalar(select(Email).where(Email.kind == "webhook_paused"))
        assert notice.to_address == user.email and url in notice.text_body
        # paused: new events are not delivered
        people.set_subscription(db.session.get(type(contact), contact.id), "sms", False)
        db.session.commit()
        run_jobs()
        assert len(received) == tries
        (delivery,) = subscriptions.deliveries(subscription)
        received.statuses.clear()
        subscriptions.resume(subscription)
        subscriptions.send_again(delivery)
        db.session.commit()
        run_jobs()
    assert len(received) == tries + 1 and received.bodies()[-1]["id"] == delivery.event_id
    db.session.refresh(delivery)
    assert delivery.status == "delivered"


def test_the_address_and_events_are_checked(app, site):
    for url, events_, message in (
        ("ftp://hooks.example/", ["event.custom"], "https://"),
        ("https://hooks.example/", [], "Choose at least one"),
        ("https://hooks.example/", ["everything"], "Choose at least one"),
    ):
        try:
            subscriptions.create(site.account_id, url, events_)
        except subscriptions.SubscriptionError as error:
            assert message in str(error)
        else:
            raise AssertionError(url)
    app.config["FOOTFALL_ENV"] = "production"
    try:
        subscriptions.create(site.account_id, "http://hooks.example/", ["event.custom"])
    except subscriptions.SubscriptionError as error:
        assert "https://" in str(error)
    else:
        raise AssertionError("plain http accepted in production")


def test_finished_deliveries_leave_the_log_after_a_month(site, contact, run_jobs):
    with webhook_receiver() as (url, received):
        subscription, _ = subscribe(site.account_id, url, ["event.custom"])
        for n in range(2):
            push_event(
                get_redis(), custom_events.api_record(site.account_id, contact.id, "signup", {}, None, f"{n}")
            )
        events.drain(get_redis())
        run_jobs()
    old, new = subscriptions.deliveries(subscription)[::-1]
    old.created_at -= timedelta(days=31)
    db.session.commit()
    enqueue("worker.jobs.webhooks.forget_old_deliveries")
    run_jobs()
    assert [delivery.id for delivery in subscriptions.deliveries(subscription)] == [new.id]


def test_a_new_address_takes_the_deliveries_still_to_be_made(site, contact, run_jobs):
    with webhook_receiver(statuses=[500] * 10) as (old_url, old), webhook_receiver() as (new_url, new):
        subscription, _ = subscribe(site.account_id, old_url, ["contact.unsubscribed"])
        people.set_subscription(db.session.get(type(contact), contact.id), "email", False)
        db.session.commit()
        subscriptions.change(subscription, url=new_url)
        db.session.commit()
        run_jobs()
    assert old == [] and [body["type"] for body in new.bodies()] == ["contact.unsubscribed"]
