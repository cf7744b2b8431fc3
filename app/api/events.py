"""/api/v1/events: custom events from servers, one or a batch of up to 1,000, queued in the page
views' stream (no database write in the request); a contact's events."""

from __future__ import annotations

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.api import TAGS, account_id, answer, bp, error_responses, keep, page_of, replayed
from app.api.contacts import _contact
from app.api.problems import ApiError
from app.api.schemas import ContactPath, EventBatch, EventOut, EventPage, EventsAccepted, PageQuery
from app.extensions import db
from app.models import Contact, CustomEvent
from app.models.types import utcnow
from app.queues import get_redis
from app.tracking import custom_events
from app.tracking.ingest import push_event

EVENTS = [TAGS["Events"]]


def _contacts_of(batch: EventBatch) -> list[int]:
    """The contact id of each event, found by id or email in two queries; ApiError 422 naming every
    event whose contact is missing or not given, or whose properties or time are wrong."""
    ids = {event.contact_id for event in batch.events if event.contact_id}
    emails = {event.email.strip().lower() for event in batch.events if event.email and not event.contact_id}
    known_ids = (
        set(
            db.session.scalars(
                select(Contact.id).where(Contact.account_id == account_id(), Contact.id.in_(ids))
            )
        )
        if ids
        else set()
    )
    by_email = (
        dict(
            db.session.execute(
                select(func.lower(Contact.email), Contact.id).where(
                    Contact.account_id == account_id(), func.lower(Contact.email).in_(emails)
                )
            ).all()
        )
        if emails
        else {}
    )
    found, errors, now = [], {}, utcnow()
    for index, event in enumerate(batch.events):
        if event.contact_id:
            contact_id = event.contact_id if event.contact_id in known_ids else None
            field, wrong = "contact_id", f"This account has no contact {event.contact_id}."
        elif event.email:
            contact_id = by_email.get(event.email.strip().lower())
            field, wrong = "email", "This account has no contact with this email: add them first."
        else:
            contact_id, field, wrong = None, "contact_id", "Give the contact, by contact_id or email."
        if contact_id is None:
            errors[f"events.{index}.{field}"] = wrong
        try:
            custom_events.check_properties(event.properties)
        except custom_events.EventRejected as rejected:
            errors[f"events.{index}.{rejected.field}"] = str(rejected)
        if event.time is not None and not (
            now - custom_events.MAX_AGE <= event.time <= now + custom_events.MAX_AHEAD
        ):
            errors[f"events.{index}.time"] = "A time within the last year, and not in the future."
        found.append(contact_id)
    if errors:
        first = next(iter(errors))
        raise ApiError(422, f"{first}: {errors[first]} Nothing was stored.", first, errors)
    return found


@bp.post("/events", tags=EVENTS, responses={202: EventsAccepted, **error_responses(503)})
def send_events(body: EventBatch):
    """Record custom events: one, or a batch of up to 1,000

    All or nothing: a batch with a wrong event is refused whole (422, naming it). Accepted events are
    stored within seconds by the workers, with the page views; an event sent again with the same
    `id` is stored once. They reach the contact's timeline, segments' event rules and automations."""
    if (kept := replayed()) is not None:  # (sent again with its Idempotency-Key: queued once)
        return kept
    contact_ids = _contacts_of(body)
    records = [
        custom_events.api_record(
            account_id(),
            contact_id,
            event.name,
            event.properties,
            event.time,
            custom_events.api_event_id(account_id(), event.id),
        )
        for event, contact_id in zip(body.events, contact_ids, strict=True)
    ]
    accepted = EventsAccepted(accepted=len(records))
    if (first := keep(accepted, 202)) is not None:  # (before queueing: a batch is queued once a key)
        return first
    try:
        pipe = get_redis().pipeline(transaction=False)
        for record in records:
            push_event(pipe, record)
        pipe.execute()
    except RedisError:
        db.session.rollback()  # (the kept answer too: the same key may be sent again)
        current_app.logger.warning("API events not queued: Redis is unreachable")
        raise ApiError(
            503, "Events cannot be queued now: try again in a minute.", headers={"Retry-After": "30"}
        ) from None
    return answer(accepted, 202)


@bp.get("/contacts/<id:contact_id>/events", tags=EVENTS, responses={200: EventPage, **error_responses(404)})
def contact_events(path: ContactPath, query: PageQuery):
    """A contact's custom events, oldest first"""
    contact = _contact(path.contact_id)
    statement = select(CustomEvent).where(
        CustomEvent.account_id == account_id(), CustomEvent.contact_id == contact.id
    )
    rows, cursor = page_of(statement, CustomEvent.id, query.cursor, query.limit)
    return answer(
        EventPage(
            data=[
                EventOut(
                    id=event.id,
                    name=event.name,
                    properties=event.properties or {},
                    source=event.source,
                    url=event.url,
                    occurred_at=event.occurred_at,
                    received_at=event.received_at,
                )
                for (event,) in rows
            ],
            next_cursor=cursor,
        )
    )
