"""The worker side of the event pipeline: read beacons from the Redis stream in batches, store
them idempotently, acknowledge them, and hand identified page views to the hook.

Reliability: entries are acknowledged only after the batch is committed, so a worker killed
mid-batch leaves them pending; another consumer (or the same one restarted) claims entries idle
for longer than EVENTS_CLAIM_IDLE_MS. The unique event id makes a second store of the same entry a no-op.
"""
from __future__ import annotations

import json
import os
import re
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import current_app
from redis.exceptions import ResponseError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import Contact, PageView, TrackingSite
from app.tracking.cid import read_cid
from app.tracking.hooks import IdentifiedPageView, identified_page_views_stored
from app.tracking.ingest import EVENTS_STREAM, host_matches
from app.tracking.urls import site_host

GROUP = "store"
BATCH_SIZE = 500
MAX_CLOCK_SKEW = timedelta(days=1)
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|(android(?!.*mobile))", re.I)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|blackberry|opera mini|iemobile", re.I)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_group(redis) -> None:
    try:
        redis.xgroup_create(EVENTS_STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def read_batch(redis, consumer: str, count: int = BATCH_SIZE, block_ms: int | None = 1000):
    """Entries left pending by a dead consumer first, then new ones: [(entry id, record)]."""
    claimed = redis.xautoclaim(EVENTS_STREAM, GROUP, consumer, min_idle_time=current_app.config["EVENTS_CLAIM_IDLE_MS"],
                               start_id="0-0", count=count)
    entries = [entry for entry in claimed[1] if entry and entry[1]]
    if not entries:
        response = redis.xreadgroup(GROUP, consumer, {EVENTS_STREAM: ">"}, count=count, block=block_ms)
        entries = response[0][1] if response else []
    return [(entry_id, fields.get(b"d", b"")) for entry_id, fields in entries]


def device_class(user_agent: str) -> str:
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"


def clean_url(url: str) -> tuple[str, str, str, dict[str, str]]:
    """(URL without cid, host, normalised path, UTM parameters) of a page address."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "cid"]
    utm = {key: value[:200] for key, value in query if key in UTM_FIELDS}
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/") or "/"
    cleaned = urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", urlencode(query), ""))
    return cleaned[:2048], host[:255], path[:2048], utm


def _client_time(ts, received: datetime) -> datetime | None:
    if ts is None:
        return None
    try:
        sent = datetime.fromtimestamp(ts / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return min(max(sent, received - MAX_CLOCK_SKEW), received)


def _insert(rows: list[dict]):
    dialect = db.engine.dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(PageView).values(rows).on_conflict_do_nothing(index_elements=["event_id"])
    return db.session.execute(statement.returning(PageView.id, PageView.event_id)).all()


def store_records(raw_records: list[bytes | str]) -> int:
    """Store a batch of stream records; returns how many new page views were stored."""
    records = []
    for raw in raw_records:
        try:
            record = json.loads(raw)
            int(record["s"]), int(record["a"]), str(record["e"]), str(record["u"])
        except (ValueError, TypeError, KeyError):
            continue  # a record this code did not write: nothing to store
        records.append(record)
    if not records:
        return 0
    site_ids = {int(record["s"]) for record in records}
    sites = {site.id: site for site in db.session.scalars(select(TrackingSite).where(TrackingSite.id.in_(site_ids)))}

    claims_by_event = {}
    for record in records:
        site = sites.get(int(record["s"]))
        claims = read_cid(record.get("c")) if site and record.get("c") else None
        if claims and claims.account_id == site.account_id:
            claims_by_event[record["e"]] = claims
    wanted = {claims.contact_id for claims in claims_by_event.values()}
    known_contacts = set()
    if wanted:
        known_contacts = set(db.session.execute(
            select(Contact.id, Contact.account_id).where(Contact.id.in_(wanted))).all())

    rows, seen = [], set()
    for record in records:
        site = sites.get(int(record["s"]))
        # Tracking turned off, or the website changed since the beacon was accepted: drop it.
        if site is None or not site.enabled or record["e"] in seen \
                or not host_matches(record["u"], site_host(site.website_url)):
            continue
        seen.add(record["e"])
        claims = claims_by_event.get(record["e"])
        contact_id = claims.contact_id if claims and (claims.contact_id, site.account_id) in known_contacts else None
        received = datetime.fromtimestamp(int(record.get("rt") or 0) / 1000, timezone.utc)
        url, host, path, utm = clean_url(str(record["u"]))
        rows.append({
            "event_id": str(record["e"])[:64], "account_id": site.account_id, "site_id": site.id,
            "contact_id": contact_id, "visitor_id": str(record.get("v", ""))[:64], "host": host, "url": url,
            "path": path, "title": str(record.get("t") or "")[:512], "referrer": str(record.get("r") or "")[:2048],
            "device": device_class(str(record.get("ua") or "")),
            "client_time": _client_time(record.get("ts"), received), "received_at": received,
            **{field: utm.get(field, "") for field in UTM_FIELDS},
        })
    if not rows:
        return 0
    stored = _insert(rows)
    db.session.commit()
    by_event = {row["event_id"]: row for row in rows}
    identified_page_views_stored([
        IdentifiedPageView(page_view_id, by_event[event_id]["account_id"], by_event[event_id]["contact_id"],
                           by_event[event_id]["url"], by_event[event_id]["path"], by_event[event_id]["received_at"])
        for page_view_id, event_id in stored if by_event[event_id]["contact_id"] is not None
    ])
    return len(stored)


def drain_once(redis, consumer: str, count: int = BATCH_SIZE, block_ms: int | None = 1000) -> int:
    """Read, store and acknowledge one batch; the number of stream entries handled."""
    entries = read_batch(redis, consumer, count, block_ms)
    if not entries:
        return 0
    store_records([record for _, record in entries])
    redis.xack(EVENTS_STREAM, GROUP, *[entry_id for entry_id, _ in entries])
    return len(entries)


def drain(redis, consumer: str | None = None) -> int:
    """Handle every entry waiting now (tests, burst workers); the number handled."""
    consumer = consumer or consumer_name()
    ensure_group(redis)
    total = 0
    while handled := drain_once(redis, consumer, block_ms=None):
        total += handled
    return total
