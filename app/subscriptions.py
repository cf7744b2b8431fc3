"""Outbound webhook subscriptions: an account's receivers of its events (Settings → Webhooks, or
the API's /webhooks), each for the event types it chose. Every event is one delivery per
subscription, signed with the subscription's secret and tried with backoff for about a day by the
webhook job (app/webhooks.py: the SSRF rules, timeouts and retries of every webhook call).

Each delivery's event id is derived from what happened (the page view, the click, the custom
event…) and the subscription, and stored once (unique): an event announced again (a batch of the
event pipeline tried again) makes no second delivery. Receivers de-duplicate on the event id all
the same: a delivery is made at least once. A subscription whose deliveries have failed for a day
without one getting through is paused, and the account's users are emailed.

The receivers of the signals (app/signals.py) are connected in app/wiring.py; those sent after a
commit commit the deliveries themselves, those sent inside a transaction (an unsubscribe, a
message given up on) add them to it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from app import webhooks
from app.extensions import db
from app.models import Account, Contact, Segment, User, WebhookDelivery, WebhookSubscription
from app.models.types import insert_new, utcnow
from app.models.webhooks import WebhookStatus
from app.queues import enqueue_after_commit

EVENT_TYPES = {
    "contact.identified": "A contact is identified on the website (a browser new to them)",
    "page_view.identified": "An identified contact views a page",
    "event.custom": "A contact does a custom event",
    "segment.joined": "A contact joins a segment",
    "segment.left": "A contact leaves a segment",
    "link.clicked": "A contact clicks a link in an email or text message",
    "contact.unsubscribed": "A contact unsubscribes from email or SMS",
    "message.failed": "An email or text message to a contact fails for good",
}
MAX_SUBSCRIPTIONS = 20
PAUSE_AFTER = timedelta(days=1)
LOG_LENGTH = 50
# Deliveries of subscriptions are kept this long once delivered or given up on (the log).
KEEP_DELIVERIES = timedelta(days=30)


class SubscriptionError(ValueError):
    def __init__(self, message: str, field: str = "url"):
        super().__init__(message)
        self.field = field


# The account's subscriptions -------------------------------------------------------------------


def account_subscriptions(account_id: int) -> list[WebhookSubscription]:
    return list(
        db.session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.account_id == account_id)
            .order_by(WebhookSubscription.id)
        )
    )


def get_subscription(account_id: int, subscription_id: int) -> WebhookSubscription | None:
    return db.session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.id == subscription_id, WebhookSubscription.account_id == account_id
        )
    )


def _check_events(events) -> list[str]:
    chosen = [event for event in EVENT_TYPES if event in set(events or ())]
    unknown = set(events or ()) - set(EVENT_TYPES)
    if unknown or not chosen:
        raise SubscriptionError(
            "Choose at least one of the events: " + ", ".join(EVENT_TYPES) + ".", "events"
        )
    return chosen


def create(
    account_id: int, url: str, events, description: str = "", created_by_id: int | None = None
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (shown this once, as the API key is)."""
    try:
        url = webhooks.check_url(url)
    except webhooks.WebhookError as error:
        raise SubscriptionError(str(error)) from None
    chosen = _check_events(events)
    description = " ".join((description or "").split())
    if len(description) > 200:
        raise SubscriptionError("Keep the description under 200 characters.", "description")
    count = db.session.scalar(
        select(func.count())
        .select_from(WebhookSubscription)
        .where(WebhookSubscription.account_id == account_id)
    )
    if count >= MAX_SUBSCRIPTIONS:
        raise SubscriptionError(f"An account has at most {MAX_SUBSCRIPTIONS} webhooks: delete one first.")
    secret = webhooks.new_secret()
    subscription = WebhookSubscription(
        account_id=account_id,
        url=url,
        events=chosen,
        description=description,
        secret=secret,
        active=True,
        created_by_id=created_by_id,
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription, secret


def change(
    subscription: WebhookSubscription, *, events=None, url: str | None = None, description: str | None = None
) -> None:
    if url is not None:
        try:
            subscription.url = webhooks.check_url(url)
        except webhooks.WebhookError as error:
            raise SubscriptionError(str(error)) from None
    if events is not None:
        subscription.events = _check_events(events)
    if description is not None:
        subscription.description = " ".join(description.split())[:200]
    db.session.flush()
    if url is not None:  # (deliveries still to be tried go to the new address, not the one left)
        db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription.id,
                WebhookDelivery.status == WebhookStatus.PENDING,
            )
            .values(url=subscription.url),
            execution_options={"synchronize_session": False},
        )


def resume(subscription: WebhookSubscription) -> None:
    subscription.active, subscription.paused_reason, subscription.failing_since = True, "", None
    db.session.flush()


def pause(subscription: WebhookSubscription, reason: str = "Paused by its owner.") -> None:
    subscription.active, subscription.paused_reason = False, reason[:300]
    db.session.flush()


def remove(subscription: WebhookSubscription) -> None:
    """Delete it with its delivery log (deliveries still pending are not made)."""
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id))
    db.session.delete(subscription)
    db.session.flush()


def deliveries(subscription: WebhookSubscription, limit: int = LOG_LENGTH) -> list[WebhookDelivery]:
    """The latest deliveries, newest first: the delivery log."""
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def get_delivery(subscription: WebhookSubscription, delivery_id: int) -> WebhookDelivery | None:
    return db.session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription.id
        )
    )


def send_again(delivery: WebhookDelivery) -> None:
    """Try a delivery again from the start (same event id: a receiver that has it ignores it), to the
    subscription's address as it is now."""
    subscription = (
        db.session.get(WebhookSubscription, delivery.subscription_id) if delivery.subscription_id else None
    )
    if subscription is not None:
        delivery.url, delivery.secret = subscription.url, subscription.secret
    delivery.status, delivery.attempts, delivery.error = WebhookStatus.PENDING, 0, ""
    delivery.next_attempt_at, delivery.response_status, delivery.delivered_at = utcnow(), None, None
    db.session.flush()
    enqueue_after_commit(db.session, "worker.jobs.webhooks.deliver_webhook", delivery.id)


def forget_old_deliveries(now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete subscriptions' deliveries finished more than KEEP_DELIVERIES ago, in batches; how many."""
    cutoff = (now or utcnow()) - KEEP_DELIVERIES
    total = 0
    while True:
        batch = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.subscription_id.is_not(None),
                WebhookDelivery.created_at < cutoff,
                WebhookDelivery.status != WebhookStatus.PENDING,
            )
            .limit(batch_size)
        )
        count = db.session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.id.in_(batch.scalar_subquery()))
        ).rowcount
        db.session.commit()
        total += count
        if count < batch_size:
            return total


# After each try (app/webhooks.py) ---------------------------------------------------------------


def after_try(delivery: WebhookDelivery, now: datetime) -> None:
    """Keep the subscription's failing time: cleared when a delivery gets through; a day of
    failures pauses it and emails the account's users."""
    subscription = db.session.get(WebhookSubscription, delivery.subscription_id)
    if subscription is None:
        return
    if delivery.status == WebhookStatus.DELIVERED:
        if subscription.failing_since is not None:
            subscription.failing_since = None
        return
    subscription.failing_since = subscription.failing_since or now
    if subscription.active and subscription.failing_since <= now - PAUSE_AFTER:
        pause(subscription, f"Its deliveries failed for a day. The last error: {delivery.error}")
        _email_owners(subscription)


def is_paused(delivery: WebhookDelivery) -> bool:
    """A delivery of a paused subscription is not tried."""
    return delivery.subscription_id is not None and not db.session.scalar(
        select(WebhookSubscription.active).where(WebhookSubscription.id == delivery.subscription_id)
    )


def _email_owners(subscription: WebhookSubscription) -> None:
    from app.messaging import mail
    from app.public_url import public_url

    account = db.session.get(Account, subscription.account_id)
    page = f"{public_url()}/settings/webhooks/{subscription.id}"
    text = (
        f"Deliveries to your webhook {subscription.url} have failed for a day, so Footfall paused it: "
        f"no more events are sent to it.\n\n{subscription.paused_reason}\n\nOnce the receiver works again, "
        f"resume it and send the failed deliveries again from its page: {page}\n"
    )
    for email in db.session.scalars(select(User.email).where(User.account_id == subscription.account_id)):
        mail.queue_email(
            account_id=subscription.account_id,
            kind="webhook_paused",
            to_address=email,
            subject=f"Footfall paused a webhook of {account.name}",
            text_body=text,
            html_body="".join(f"<p>{line}</p>" for line in _escaped(text).split("\n\n")),
        )


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


# Publishing events ------------------------------------------------------------------------------


def _contacts(pairs) -> dict[tuple[int, int], dict]:
    """What payloads say of the contacts, by (account id, contact id)."""
    pairs = set(pairs)
    rows = db.session.execute(
        select(Contact.account_id, Contact.id, Contact.email, Contact.first_name, Contact.last_name).where(
            Contact.id.in_(sorted({contact_id for _, contact_id in pairs})),
            Contact.account_id.in_(sorted({account_id for account_id, _ in pairs})),
        )
    )
    return {
        (row.account_id, row.id): {
            "id": row.id,
            "email": row.email,
            "first_name": row.first_name,
            "last_name": row.last_name,
        }
        for row in rows
    }


def publish(event_type: str, items: list[tuple[int, int, str, dict]]) -> int:
    """Queue a delivery of each item, (account id, contact id, what it is about, data), to every
    active subscription of its account to the event type, in the session (the caller commits);
    how many deliveries are new. One INSERT for the whole list; none for accounts without one."""
    if not items:
        return 0
    accounts = {account_id for account_id, *_ in items}
    subscribed: dict[int, list[WebhookSubscription]] = {}
    for subscription in db.session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.account_id.in_(accounts), WebhookSubscription.active.is_(True)
        )
    ):
        if event_type in (subscription.events or ()):
            subscribed.setdefault(subscription.account_id, []).append(subscription)
    if not subscribed:
        return 0
    contacts = _contacts(
        (account_id, contact_id) for account_id, contact_id, *_ in items if account_id in subscribed
    )
    now = utcnow()
    rows = []
    for account_id, contact_id, about, data in items:
        contact = contacts.get((account_id, contact_id))
        if contact is None:
            continue
        for subscription in subscribed.get(account_id, ()):
            event_id = (
                "evt_" + hashlib.sha256(f"{subscription.id}:{event_type}:{about}".encode()).hexdigest()[:24]
            )
            payload = {
                "id": event_id,
                "type": event_type,
                "created_at": f"{now:%Y-%m-%dT%H:%M:%SZ}",
                "data": {"contact": contact, **data},
            }
            rows.append(
                {
                    "account_id": account_id,
                    "event_id": event_id,
                    "url": subscription.url,
                    "secret": subscription.secret,
                    "status": WebhookStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "error": "",
                    "contact_id": contact_id,
                    "subscription_id": subscription.id,
                    "event_type": event_type,
                    "payload": json.dumps(payload, separators=(",", ":"), default=str),
                }
            )
    new = insert_new(WebhookDelivery, rows, "event_id", returning=(WebhookDelivery.id,)) if rows else []
    for (delivery_id,) in new:
        enqueue_after_commit(db.session, "worker.jobs.webhooks.deliver_webhook", delivery_id)
    return len(new)


def _moment(value) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%SZ}" if isinstance(value, datetime) else str(value)


def on_browsers_identified(sender=None, browsers=()) -> None:
    publish(
        "contact.identified",
        [
            (
                b.account_id,
                b.contact_id,
                f"{b.browser_id}:{b.at.timestamp()}",
                {
                    "browser": {
                        "id": b.browser_id,
                        "device": b.device,
                        "identified_by": b.channel,
                        "at": _moment(b.at),
                    }
                },
            )
            for b in browsers
        ],
    )
    db.session.commit()


def on_page_views(sender=None, views=()) -> None:
    publish(
        "page_view.identified",
        [
            (
                v.account_id,
                v.contact_id,
                str(v.page_view_id),
                {
                    "page_view": {
                        "id": v.page_view_id,
                        "url": v.url,
                        "path": v.path,
                        "at": _moment(v.received_at),
                    }
                },
            )
            for v in views
        ],
    )
    db.session.commit()


def on_custom_events(sender=None, events=()) -> None:
    publish(
        "event.custom",
        [
            (
                e.account_id,
                e.contact_id,
                str(e.event_id),
                {
                    "event": {
                        "id": e.event_id,
                        "name": e.name,
                        "properties": e.properties,
                        "at": _moment(e.occurred_at),
                    }
                },
            )
            for e in events
        ],
    )
    db.session.commit()


def _segment_change(event_type: str, account_id: int, segment_id: int, contact_ids) -> None:
    name = db.session.scalar(select(Segment.name).where(Segment.id == segment_id))
    now = utcnow()
    publish(
        event_type,
        [
            (
                account_id,
                contact_id,
                f"{segment_id}:{contact_id}:{now.timestamp()}",
                {"segment": {"id": segment_id, "name": name}, "at": _moment(now)},
            )
            for contact_id in contact_ids
        ],
    )
    db.session.commit()


def on_segment_joined(sender, segment_id: int, contact_ids) -> None:
    _segment_change("segment.joined", sender, segment_id, contact_ids)


def on_segment_left(sender, segment_id: int, contact_ids) -> None:
    _segment_change("segment.left", sender, segment_id, contact_ids)


def on_links_clicked(sender=None, clicks=()) -> None:
    publish(
        "link.clicked",
        [
            (
                c["account_id"],
                c["contact_id"],
                c["id"],
                {
                    "click": {
                        "url": without_cid(c["url"]),
                        "channel": c["channel"],
                        "campaign_id": c["campaign_id"],
                        "at": _moment(c["clicked_at"]),
                    }
                },
            )
            for c in clicks
        ],
    )
    db.session.commit()


def without_cid(url: str) -> str:
    """A link's destination without the contact's cid (it identifies them: it stays with Footfall)."""
    from app.tracking.events import clean_url

    try:
        return clean_url(url)[0]
    except ValueError:
        return url


def on_unsubscribed(sender, contact_id: int, channel: str) -> None:
    """(In the unsubscribing transaction: no commit here.)"""
    now = utcnow()
    publish(
        "contact.unsubscribed",
        [
            (
                sender,
                contact_id,
                f"{contact_id}:{channel}:{now.timestamp()}",
                {"channel": channel, "at": _moment(now)},
            )
        ],
    )


def on_messages_failed(sender=None, messages=()) -> None:
    """(In the delivering transaction: no commit here.)"""
    publish(
        "message.failed",
        [
            (
                m.account_id,
                m.contact_id,
                f"{m.channel}:{m.message_id}",
                {
                    "message": {
                        "channel": m.channel,
                        "id": m.message_id,
                        "campaign_id": m.campaign_id,
                        "to": m.to,
                        "error": m.error,
                    }
                },
            )
            for m in messages
        ],
    )
