"""Accounts are isolated: every URL that names an object of an account (contact, list, tag,
campaign, segment, automation and its steps, import, outbox email, and whatever is added later)
answers another account with 404, for GET and POST alike, and changes nothing at all.

The routes come from the app's URL map, so a new object URL is covered the day it is added. The
helpers that make one object of every kind and fill a route's variables with them are shared with
the fuzz and security-header tests. (Older isolation tests beside each area also check list pages
and cross-account references in forms; they stay.)"""
from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest
from rq import Queue
from sqlalchemy import select

from app import api_keys, create_app, subscriptions
from app.automations import service as automations
from app.contacts import fields, imports, lists
from app.extensions import db
from app.messaging import campaigns, mail, sms
from app.messaging.rendering import Message, Renderer
from app.messaging.tokens import Unsubscribe, permanent_token, unsubscribe_token
from app.models import Browser
from app.queues import PRIORITY, get_redis
from app.segments import service as segments
from app.tracking import events
from app.tracking.cid import make_cid
from app.tracking.ingest import event_record
from app.tracking.sites import SiteInfo

# Blueprints whose URLs carry signed tokens or public keys rather than an account's object ids; the
# REST API's are checked with API keys (tests/api/test_api_isolation.py).
PUBLIC_BLUEPRINTS = {"links", "ingest"}
KEY_BLUEPRINTS = {"api"}
_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def app_routes() -> list:
    """Every route of the app (a throwaway instance: routes do not depend on settings)."""
    app = create_app({"DATABASE_URL": "sqlite://"})
    return sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule)


ROUTES = app_routes()


def methods(rule) -> list[str]:
    return sorted(rule.methods & {"GET", "POST"})


def account_objects(user, site, contact) -> dict:
    """One object of every kind for the account, made by the app's own domain functions: the values
    of the URL variables that name them, and the signed tokens of the public links by endpoint."""
    account_id = user.account_id
    newsletter = lists.add_to_list(contact, new_name="Newsletter")
    tag = lists.add_tag(contact, "VIP")
    campaign = campaigns.create_campaign(user, "email")
    campaigns.update_campaign(campaign, name="Fall sale", subject="Our fall sale", body="<p>Hello</p>",
                              list_ids=[newsletter.id])
    segment = segments.save(account_id, None, "Pricing fans",
                            {"join": "and", "groups": [{"match": "all", "rules": [
        {"type": "visit", "op": "contains", "value": "/pricing", "count_op": "at_least", "count": "1",
         "window": "last_days", "days": "30", "negate": False}]}]})
    automation = automations.create(user)
    step = automations.add_step(automation, "delay")
    field = fields.create_field(account_id, "Plan", "choice", choices=["Free", "Pro"])
    contact_import = imports.start_import(account_id, user.id, "contacts.csv",
                                          io.BytesIO(b"email,first_name\ngrace@customer.example,Grace\n"))
    email = mail.queue_email(account_id=account_id, kind="test", to_address=user.email, subject="Hello",
                             text_body="Hello", html_body="<p>Hello</p>")
    short_link = sms.make_short_link(account_id=account_id, url="https://www.shop.example/sale")
    api_key, _ = api_keys.create_key(account_id, "Shop", "read")
    subscription, _ = subscriptions.create(account_id, "https://crm.shop.example/hooks", ["event.custom"])
    db.session.flush()
    subscriptions.publish("event.custom", [(account_id, contact.id, "isolation",
                                            {"event": {"name": "signup"}})])
    delivery = subscriptions.deliveries(subscription)[0]
    db.session.commit()
    # A browser identified as the contact, as the event pipeline records one.
    events.store_records([event_record(
        {"u": "https://www.shop.example/", "t": "", "r": "", "v": "isolation-browser", "e": "isolation-view",
         "c": make_cid(account_id, contact.id)}, SiteInfo(site.id, account_id, "shop.example", True),
        "Mozilla/5.0")])
    browser_id = db.session.scalar(select(Browser.id).where(Browser.contact_id == contact.id))
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    click = renderer.link("https://www.shop.example/x", contact,
                                                                       "email")
    return {
        "contact_id": contact.id, "list_id": newsletter.id, "tag_id": tag.id, "campaign_id": campaign.id,
        "segment_id": segment.id, "automation_id": automation.id, "step_id": step["id"],
        "import_id": contact_import.id, "email_id": email.id, "code": short_link.code,
        "browser_id": browser_id, "field_id": field.id,
        "key_id": api_key.id, "subscription_id": subscription.id, "webhook_id": subscription.id,
        "delivery_id": delivery.id, "site_key": site.site_key, "filename": "css/app.css",
        "tokens": {"links.click": urlsplit(click).path.rsplit("/", 1)[1],
                   "links.unsubscribe": unsubscribe_token(Unsubscribe(account_id, contact.id, "email")),
                   "links.web_view": permanent_token(campaign.id)},
    }


def fill(rule, objects: dict) -> str:
    """The route's path with its variables named after the objects:
    /contacts/<int:contact_id> → /contacts/7."""
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "token":
            return objects["tokens"][rule.endpoint]
        assert name in objects, f"{rule.rule}: make a {name} in account_objects()"
        return str(objects[name])
    return _VARIABLE.sub(value, rule.rule)


def database_rows() -> dict[str, list]:
    """Every row of every table, as the next request would see them."""
    db.session.rollback()
    # In key order (PostgreSQL cannot order by a JSON column).
    return {table.name: db.session.execute(select(table)
                                           .order_by(*(table.primary_key.columns or table.columns))).all()
            for table in db.metadata.sorted_tables}


def queued_jobs() -> dict[str, int]:
    return {name: Queue(name, connection=get_redis()).count for name in PRIORITY}


# What a person taking over another account's objects would post: a value for every common field.
TAKE_OVER = {"name": "Taken over", "email": "mallory@other.example", "first_name": "Mallory", "tag": "Stolen",
             "new_list": "Stolen", "subject": "Taken over", "body": "Taken over", "kind": "email",
             "channel": "email", "enabled": "0", "when": "now", "action": "add_group", "join": "or",
             "amount": "2", "unit": "hours",
             "trigger-type": "page_view", "trigger-op": "contains", "trigger-value": "/", "reentry": "always"}

OBJECT_ROUTES = [pytest.param(rule, method, id=f"{method} {rule.rule}")
                 for rule in ROUTES if rule.arguments and rule.endpoint != "static"
                 and rule.endpoint.split(".")[0] not in PUBLIC_BLUEPRINTS | KEY_BLUEPRINTS
                 for method in methods(rule)]


def test_every_kind_of_object_is_covered():
    names = {name for rule in ROUTES if rule.endpoint.split(".")[0] not in PUBLIC_BLUEPRINTS
             for name in rule.arguments}
    assert {"contact_id", "list_id", "tag_id", "campaign_id", "segment_id", "automation_id", "step_id",
            "import_id", "email_id"} <= names
    assert len(OBJECT_ROUTES) >= 40


@pytest.mark.parametrize("rule, method", OBJECT_ROUTES)
def test_another_account_gets_404_and_changes_nothing(auth, user, site, contact, intruder, rule, method):
    objects = account_objects(user, site, contact)
    url = fill(rule, objects)
    rows, jobs = database_rows(), queued_jobs()

    response = intruder.open(url, method=method, data=TAKE_OVER if method == "POST" else None)

    assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
    assert "Taken over" not in response.get_data(as_text=True)
    assert database_rows() == rows, f"{method} {url} changed the other account's data"
    assert queued_jobs() == jobs, f"{method} {url} queued work"
    # The same URL is the owner's object: the 404 came from the account check, not a wrong URL.
    assert auth.client.open(url, method=method,
                            data=TAKE_OVER if method == "POST" else None).status_code != 404
