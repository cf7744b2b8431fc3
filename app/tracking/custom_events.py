"""Custom events: what a contact (or an anonymous visitor) did that is not a page view, sent by the
website (`footfall('track', 'signup', {plan: 'pro'})`, a beacon) or by a server (POST
/api/v1/events). Both go through the page views' stream (app/tracking/ingest.py, EVENTS_STREAM)
and are stored in batches by the same consumer (app/tracking/events.py hands them here): no
database write in the request. Stored events are announced (app.signals.custom_events_stored):
segments with event rules are updated for their contacts."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, tuple_

from app.extensions import db
from app.models import Browser, Contact, CustomEvent, TrackingSite
from app.models.types import insert_new
from app.signals import StoredEvent, custom_events_stored
from app.tracking.urls import host_matches, site_host

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
PROPERTY_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}\Z")
MAX_PROPERTIES = 50
MAX_TEXT = 500
MAX_NUMBER = 1e15
# How far an event's own time may lie before it is received (an import of history) or after it.
MAX_AGE = timedelta(days=365)
MAX_AHEAD = timedelta(minutes=5)
BATCH_LIMIT = 1000


class EventRejected(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def check_name(name) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise EventRejected(
            "An event name is 1 to 64 letters, digits and _ . : - (starting with a letter or "
            "digit), as signup or order.placed.",
            "name",
        )
    return name


def check_properties(properties) -> dict:
    """Flat properties: up to 50 keys, each text (up to 500 characters), a number, yes/no or null."""
    if properties is None:
        return {}
    if not isinstance(properties, dict) or len(properties) > MAX_PROPERTIES:
        raise EventRejected(f"Properties are an object of at most {MAX_PROPERTIES} members.", "properties")
    for key, value in properties.items():
        if not isinstance(key, str) or not PROPERTY_KEY.match(key):
            raise EventRejected(
                "A property's name is 1 to 40 letters, digits and _ . -.", f"properties.{key}"
            )
        if isinstance(value, str):
            if len(value) > MAX_TEXT or "\x00" in value or re.search("[\ud800-\udfff]", value):
                raise EventRejected(f"Text of at most {MAX_TEXT} characters.", f"properties.{key}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value) or abs(value) > MAX_NUMBER:
                raise EventRejected("A number up to 10^15.", f"properties.{key}")
        elif value is not None and not isinstance(value, bool):
            raise EventRejected("Text, a number, true, false or null (no nesting).", f"properties.{key}")
    return properties


def api_event_id(account_id: int, sender_id: str | None) -> str:
    """The stored id of an event sent through the API: its sender's id, per account (sending it
    again stores nothing), or a new one. Always with "api:", which no beacon's id can hold (their
    ids are letters, digits, - and _): a website visitor cannot take an API event's id first."""
    if not sender_id:
        return "api:" + uuid.uuid4().hex
    return "api:" + hashlib.sha256(f"{account_id}:{sender_id}".encode()).hexdigest()[:60]


def api_record(
    account_id: int, contact_id: int, name: str, properties: dict, at: datetime | None, event_id: str
) -> str:
    """The stream entry of an event sent through the API."""
    received = int(time.time() * 1000)
    return json.dumps(
        {
            "src": "api",
            "a": account_id,
            "ct": contact_id,
            "n": name,
            "p": properties,
            "e": event_id,
            "rt": received,
            "ts": int(at.timestamp() * 1000) if at is not None else received,
        },
        separators=(",", ":"),
    )


def _time(milliseconds, fallback: datetime) -> datetime:
    try:
        at = datetime.fromtimestamp(int(milliseconds) / 1000, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return fallback
    return min(max(at, fallback - MAX_AGE), fallback + MAX_AHEAD)


def _number(value) -> int:
    """A record's id as a number (0 for anything else: it then matches no site or contact)."""
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else 0


def _website_context(records: list[dict]) -> tuple[dict[int, TrackingSite], dict[tuple[int, str], int]]:
    """The sites of the website events, and the contact of each of their browsers that is
    identified: (sites by id, {(site id, visitor id): contact id}), in two queries."""
    site_ids = {_number(record.get("s")) for record in records}
    sites = {
        site.id: site
        for site in db.session.scalars(select(TrackingSite).where(TrackingSite.id.in_(site_ids)))
    }
    pairs = sorted(
        {
            (_number(record.get("s")), str(record.get("v", ""))[:64])
            for record in records
            if _number(record.get("s")) in sites
        }
    )
    browsers = {}
    if pairs:
        browsers = {
            (site_id, visitor): contact_id
            for site_id, visitor, contact_id in db.session.execute(
                select(Browser.site_id, Browser.visitor_id, Browser.contact_id).where(
                    tuple_(Browser.site_id, Browser.visitor_id).in_(pairs)
                )
            )
        }
    return sites, browsers


def _existing_contacts(records: list[dict]) -> set[tuple[int, int]]:
    """(account id, contact id) of the API events' contacts that still exist."""
    wanted = sorted({(_number(record.get("a")), _number(record.get("ct"))) for record in records})
    if not wanted:
        return set()
    return {
        (account_id, contact_id)
        for account_id, contact_id in db.session.execute(
            select(Contact.account_id, Contact.id).where(tuple_(Contact.account_id, Contact.id).in_(wanted))
        )
    }


def _row(record: dict) -> dict | None:
    """The stored columns a record names itself, or None for a record this code did not write."""
    try:
        received = datetime.fromtimestamp(int(record.get("rt") or 0) / 1000, timezone.utc)
        return {
            "event_id": str(record["e"])[:64],
            "name": check_name(record.get("n")),
            "properties": check_properties(record.get("p")),
            "received_at": received,
            "occurred_at": _time(record.get("ts"), received),
        }
    except (EventRejected, KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def store(records: list[dict]) -> int:
    """Store a batch of event records from the stream (website beacons with `n`, API entries with
    `src` "api"); how many were new. Checked again here: a record this code did not write is
    dropped, as is an event of a site turned off or moved, or of a contact erased meanwhile. A
    website event belongs to the contact its browser is identified as when it is stored."""
    from app.tracking.events import clean_url  # (that module hands the events over to this one)

    from_api = [record for record in records if record.get("src") == "api"]
    sites, browsers = _website_context([record for record in records if record.get("src") != "api"])
    contacts = _existing_contacts(from_api)
    rows, seen = [], set()
    for record in records:
        row = _row(record)
        if row is None or row["event_id"] in seen:
            continue
        if record.get("src") == "api":
            key = (_number(record.get("a")), _number(record.get("ct")))
            if key not in contacts:
                continue
            row |= {
                "account_id": key[0],
                "contact_id": key[1],
                "site_id": None,
                "visitor_id": "",
                "source": "api",
                "url": "",
            }
        else:
            site, url = sites.get(_number(record.get("s"))), str(record.get("u") or "")
            if site is None or not site.enabled or not host_matches(url, site_host(site.website_url)):
                continue
            visitor = str(record.get("v", ""))[:64]
            row |= {
                "account_id": site.account_id,
                "contact_id": browsers.get((site.id, visitor)),
                "site_id": site.id,
                "visitor_id": visitor,
                "source": "website",
                "url": clean_url(url)[0],
            }
        seen.add(row["event_id"])
        rows.append(row)
    if not rows:
        return 0
    stored = insert_new(CustomEvent, rows, "event_id", returning=(CustomEvent.id,))
    db.session.commit()
    # Every identified event of the batch, stored now or by an earlier try (whose announcement
    # may have failed): the receivers are idempotent.
    identified = [
        StoredEvent(*row)
        for row in db.session.execute(
            select(
                CustomEvent.id,
                CustomEvent.account_id,
                CustomEvent.contact_id,
                CustomEvent.name,
                CustomEvent.occurred_at,
                CustomEvent.properties,
            ).where(
                CustomEvent.event_id.in_([row["event_id"] for row in rows]),
                CustomEvent.contact_id.is_not(None),
            )
        )
    ]
    if identified:
        custom_events_stored.send(events=identified)
    return len(stored)


def _as_text(value) -> str:
    """A property's value as segment rules compare it: its JSON text (pro, 42, 1.5, true)."""
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def property_matches(rule: dict, properties: dict) -> bool:
    """Whether an event's properties meet a rule's property condition (none: they do), as the
    segment compiler's SQL decides it (app/segments/compiler.py, _property_condition)."""
    if not rule.get("property"):
        return True
    value, op, wanted = (properties or {}).get(rule["property"]), rule["property_op"], rule["property_value"]
    if op in ("gt", "lt"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return value > float(wanted) if op == "gt" else value < float(wanted)
    text = "" if value is None else _as_text(value)
    return {"is": text == str(wanted), "is_not": text != str(wanted), "contains": str(wanted) in text}[op]


def contact_events(account_id: int, contact_id: int, limit: int = 200) -> list[CustomEvent]:
    """A contact's latest events, newest first (the timeline)."""
    return list(
        db.session.scalars(
            select(CustomEvent)
            .where(CustomEvent.account_id == account_id, CustomEvent.contact_id == contact_id)
            .order_by(CustomEvent.occurred_at.desc(), CustomEvent.id.desc())
            .limit(limit)
        )
    )
