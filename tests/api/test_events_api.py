"""Custom events through the API and the website's script: queued in the page views' stream, stored
by the same consumer in batches, shown on the contact's timeline and read back through the API."""

from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import CustomEvent
from app.models.types import utcnow
from app.queues import get_redis
from app.tracking.ingest import EVENTS_STREAM
from tests.conftest import make_contact


def test_a_batch_is_queued_without_a_database_write_then_stored_once(api, site, contact, drain):
    other = make_contact(site.account_id, "grace@customer.example")
    batch = {
        "events": [
            {
                "contact_id": contact.id,
                "name": "order.placed",
                "id": "order-1001",
                "properties": {"total": 42.5, "items": 3, "gift": True},
            },
            {
                "email": "GRACE@customer.example",
                "name": "signup",
                "properties": {"plan": "pro"},
                "time": (utcnow() - timedelta(days=2)).isoformat(),
            },
        ]
    }
    accepted = api.post("/events", batch)
    assert accepted.status_code == 202 and accepted.json == {"accepted": 2}
    assert db.session.scalar(select(func.count()).select_from(CustomEvent)) == 0  # queued, not stored
    assert get_redis().xlen(EVENTS_STREAM) == 2
    api.post("/events", {"events": [batch["events"][0]]})  # sent again: stored once
    drain()
    rows = {row.name: row for row in db.session.scalars(select(CustomEvent))}
    assert set(rows) == {"order.placed", "signup"}
    assert rows["order.placed"].contact_id == contact.id and rows["order.placed"].properties["items"] == 3
    assert rows["signup"].contact_id == other.id and rows["signup"].source == "api"
    assert utcnow() - rows["signup"].occurred_at > timedelta(days=1)

    read = api.get(f"/contacts/{contact.id}/events")
    assert [event["name"] for event in read.json["data"]] == ["order.placed"]
    assert read.json["data"][0]["properties"] == {"total": 42.5, "items": 3, "gift": True}


def test_a_wrong_event_refuses_the_whole_batch_and_names_it(api, site, contact):
    refused = api.post(
        "/events",
        {
            "events": [
                {"contact_id": contact.id, "name": "fine"},
                {"email": "nobody@customer.example", "name": "signup"},
                {"contact_id": contact.id, "name": "bad name!"},
            ]
        },
    )
    assert refused.status_code == 422
    assert refused.json["field"] in ("events.1.email", "events.2.name")
    nested = api.post(
        "/events", {"events": [{"contact_id": contact.id, "name": "x", "properties": {"a": {"b": 1}}}]}
    )
    assert nested.status_code == 422
    old = api.post(
        "/events",
        {
            "events": [
                {"contact_id": contact.id, "name": "x", "time": (utcnow() - timedelta(days=400)).isoformat()}
            ]
        },
    )
    assert old.status_code == 422 and old.json["field"] == "events.0.time"
    too_many = api.post("/events", {"events": [{"contact_id": contact.id, "name": "x"}] * 1001})
    assert too_many.status_code == 422 and too_many.json["field"] == "events"
    assert get_redis().xlen(EVENTS_STREAM) == 0


def test_a_contact_of_another_account_is_not_found(api, other_api, site, contact):
    refused = other_api.post("/events", {"events": [{"contact_id": contact.id, "name": "signup"}]})
    assert refused.status_code == 422 and refused.json["field"] == "events.0.contact_id"
    assert other_api.get(f"/contacts/{contact.id}/events").status_code == 404


def test_webhook_subscriptions_through_the_api(api, other_api, site, contact, drain, run_jobs):
    from tests.support import webhook_receiver

    refused = api.post("/webhooks", {"url": "https://hooks.example/", "events": ["everything"]})
    assert refused.status_code == 422 and refused.json["field"] == "events.0"
    with webhook_receiver() as (url, received):
        created = api.post("/webhooks", {"url": url, "events": ["event.custom"], "description": "CRM"})
        assert created.status_code == 201 and created.json["secret"].startswith("whsec_")
        webhook_id = created.json["id"]
        listed = api.get("/webhooks").json["data"]
        assert [row["url"] for row in listed] == [url] and "secret" not in listed[0]  # shown once
        api.post("/events", {"events": [{"contact_id": contact.id, "name": "signup"}]})
        drain()
        run_jobs()
        assert [body["type"] for body in received.bodies()] == ["event.custom"]
    log = api.get(f"/webhooks/{webhook_id}/deliveries").json["data"]
    assert [(row["event_type"], row["status"], row["response_status"]) for row in log] == [
        ("event.custom", "delivered", 200)
    ]
    paused = api.patch(f"/webhooks/{webhook_id}", {"active": False})
    assert paused.status_code == 200 and paused.json["active"] is False
    assert other_api.get(f"/webhooks/{webhook_id}").status_code == 404
    assert api.delete(f"/webhooks/{webhook_id}").status_code == 204
    assert api.get("/webhooks").json["data"] == []


def test_a_batch_sent_again_with_its_idempotency_key_is_queued_once(api, site, contact):
    batch = {"events": [{"contact_id": contact.id, "name": "signup"}]}
    first = api.post("/events", batch, headers={"Idempotency-Key": "batch-1"})
    again = api.post("/events", batch, headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert get_redis().xlen(EVENTS_STREAM) == 1


def test_a_visitor_cannot_take_an_api_event_id_first(client, site):
    from app.tracking import custom_events
    from tests.integration.test_ingest import beacon, post

    stolen = custom_events.api_event_id(site.account_id, "order-1001")
    assert stolen.startswith("api:")
    assert post(client, beacon(site, e=stolen, n="signup")).status_code == 400  # not a beacon's id


def test_odd_values_are_refused_not_stored(api, site, contact):
    nul = api.post("/contacts", {"email": "nul@customer.example", "fields": {"company": "a\u0000b"}})
    assert nul.status_code == 422 and nul.json["field"].startswith("fields.company")
    early = api.get("/page-views", query_string={"since": "0001-01-01T00:00:00+01:00"})
    assert early.status_code == 422 and early.json["field"] == "since"


def test_a_replayed_webhook_creation_shows_no_secret(api, site):
    headers = {"Idempotency-Key": "hook-1"}
    body = {"url": "https://crm.shop.example/hooks", "events": ["event.custom"]}
    first = api.post("/webhooks", body, headers=headers)
    again = api.post("/webhooks", body, headers=headers)
    assert first.json["secret"].startswith("whsec_") and again.json["secret"] == ""
    assert again.json["id"] == first.json["id"] and len(api.get("/webhooks").json["data"]) == 1


def test_a_kept_answer_about_a_contact_is_erased_with_them(api, site, contact):
    from sqlalchemy import select

    from app.models.api import IdempotentRequest

    tagged = api.post(f"/contacts/{contact.id}/tags", {"name": "vip"}, headers={"Idempotency-Key": "t"})
    assert tagged.status_code == 200
    assert api.delete(f"/contacts/{contact.id}").status_code == 204
    assert db.session.scalars(select(IdempotentRequest)).all() == []
