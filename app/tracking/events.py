"""The worker side of the event pipeline: page views from the beacon stream, stored in batches
idempotently (the unique event id makes a second store of an entry a no-op), then announced
(app.signals.page_views_stored). The stream mechanics (batches, acknowledgement, take-over) are
in app/streams.py."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import func, select

from app.extensions import db
from app.models import Contact, PageView, TrackingSite
from app.models.types import insert_new
from app.signals import IdentifiedPageView, browsers_identified, earlier_views_attached, page_views_stored
from app.streams import Stream
from app.tracking import custom_events, identity
from app.tracking.cid import issued_to_contact, read_cid
from app.tracking.ingest import EVENTS_STREAM
from app.tracking.urls import host_matches, match_forms, site_host

MAX_CLOCK_SKEW = timedelta(days=1)
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|(android(?!.*mobile))", re.I)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|blackberry|opera mini|iemobile", re.I)


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
    cleaned = urlunsplit((parts.scheme, _host_and_port(parts.netloc), parts.path or "/",
                          urlencode(query), ""))
    return cleaned[:2048], host[:255], path[:2048], utm


def _host_and_port(netloc: str) -> str:
    """A URL's netloc without `user:password@`, which no page view keeps."""
    return netloc.rpartition("@")[2].lower()


def without_credentials(url: str) -> str:
    """A referrer without `user:password@`; nothing for one that is not a URL (no browser sends
    one, and what it holds cannot be told apart)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit(parts._replace(netloc=_host_and_port(parts.netloc))) if "@" in parts.netloc else url


def _client_time(ts, received: datetime) -> datetime | None:
    if ts is None:
        return None
    try:
        sent = datetime.fromtimestamp(ts / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return min(max(sent, received - MAX_CLOCK_SKEW), received)


def _claims(records: list[dict], sites: dict[int, TrackingSite]) -> dict[str, identity.Claim]:
    """Who each record says it is, by event id: a `cid` of the site's account issued to the contact
    it names (a cid, or the cookie keeping it, of an erased contact identifies nobody, even once a
    new contact has their id), or a sign-in the web process verified (`i`: the email), for an
    existing contact of the account only."""
    tokens, emails = {}, {}
    for record in records:
        site = sites.get(int(record["s"]))
        if site is None:
            continue
        if record.get("i"):
            emails[record["e"]] = (site.account_id, str(record["i"]).lower())
        elif record.get("c") and (claims := read_cid(record["c"])) and claims.account_id == site.account_id:
            tokens[record["e"]] = (claims, site.account_id)
    created_at_of: dict[tuple[int, int], datetime] = {}
    if tokens:
        wanted = {claims.contact_id for claims, _ in tokens.values()}
        created_at_of = {(contact_id, account_id): created_at for contact_id, account_id, created_at in
                         db.session.execute(select(Contact.id, Contact.account_id, Contact.created_at)
                                            .where(Contact.id.in_(wanted)))}
    found = {}
    if emails:
        found = {(account_id, email.lower()): contact_id
                 for contact_id, account_id, email in db.session.execute(
            select(Contact.id, Contact.account_id, Contact.email)
            .where(Contact.account_id.in_({account_id for account_id, _ in emails.values()}),
                   func.lower(Contact.email).in_({email for _, email in emails.values()})))}
    claims = {event_id: identity.Claim(c.contact_id, c.issued, c.message_id, c.channel)
              for event_id, (c, account_id) in tokens.items()
              if issued_to_contact(c.issued, created_at_of.get((c.contact_id, account_id)))}
    received = {record["e"]: _received(record) for record in records}
    claims.update({event_id: identity.Claim(found[wanted], received[event_id], channel=identity.SIGN_IN,
                                            verified=True)
                   for event_id, wanted in emails.items() if wanted in found})
    return claims


def _received(record: dict) -> datetime:
    return datetime.fromtimestamp(int(record.get("rt") or 0) / 1000, timezone.utc)


def store_records(raw_records: list[bytes | str]) -> int:
    """Store a batch of stream records; returns how many new page views and custom events were
    stored. A record with `x` is a verified identify (app/tracking/identity.py): it identifies its
    browser and is not a page view; one with `n` is a custom event."""
    records, custom = [], []
    for raw in raw_records:
        try:
            record = json.loads(raw)
            if isinstance(record, dict) and "n" in record:
                custom.append(record)  # a custom event (app/tracking/custom_events.py)
                continue
            int(record["s"]), int(record["a"]), str(record["e"]), str(record["u"])
        except (ValueError, TypeError, KeyError):
            continue  # a record this code did not write: nothing to store
        records.append(record)
    stored = _store_page_views(records) if records else 0
    # (after the page views: a browser a view of this batch identified is its events' contact)
    return stored + (custom_events.store(custom) if custom else 0)


def _store_page_views(records: list[dict]) -> int:
    site_ids = {int(record["s"]) for record in records}
    sites = {site.id: site
             for site in db.session.scalars(select(TrackingSite).where(TrackingSite.id.in_(site_ids)))}
    claims = _claims(records, sites)

    rows, seen, only_identify = [], set(), set()
    for record in records:
        site = sites.get(int(record["s"]))
        # Tracking turned off, or the website changed since the beacon was accepted: drop it.
        if site is None or not site.enabled or record["e"] in seen \
                or not host_matches(record["u"], site_host(site.website_url)):
            continue
        seen.add(record["e"])
        if record.get("x"):
            only_identify.add(str(record["e"])[:64])
        received = _received(record)
        url, host, path, utm = clean_url(str(record["u"]))
        match_url, match_path = match_forms(url)
        rows.append({
            "event_id": str(record["e"])[:64], "account_id": site.account_id, "site_id": site.id,
            "contact_id": None, "visitor_id": str(record.get("v", ""))[:64], "host": host, "url": url,
            "path": path, "match_url": match_url, "match_path": match_path,
            "title": str(record.get("t") or "")[:512],
            "referrer": without_credentials(str(record.get("r") or ""))[:2048],
            "device": device_class(str(record.get("ua") or "")),
            "client_time": _client_time(record.get("ts"), received), "received_at": received,
            "attached_at": None, **{field: utm.get(field, "") for field in UTM_FIELDS},
        })
    if not rows:
        return 0
    new_browsers: list[identity.Identified] = []
    attached = identity.resolve(rows, {row["event_id"]: claim for row in rows
                                       if (claim := claims.get(row["event_id"]))}, sites, new_browsers)
    rows = [row for row in rows if row["event_id"] not in only_identify]
    # Any unique key: event_id, or (event_id, received_at) once the table is partitioned by month.
    stored = insert_new(PageView, rows, None, returning=(PageView.id, PageView.event_id)) if rows else []
    db.session.commit()
    by_event = {row["event_id"]: row for row in rows}
    # (views attached as earlier ones are not announced: they never fire page-view triggers)
    views = [IdentifiedPageView(page_view_id, row["account_id"], row["contact_id"], row["url"], row["path"],
                                row["received_at"], row["match_url"], row["match_path"])
             for page_view_id, event_id in stored
             if (row := by_event[event_id])["contact_id"] is not None and row["attached_at"] is None]
    if len(stored) < len(rows):
        identified = {(row["event_id"], row["site_id"]) for row in rows if row["contact_id"] is not None}
        views += _stored_before(identified, {event_id for _, event_id in stored})
    if attached:
        earlier_views_attached.send(contacts=sorted(attached))
    if new_browsers:
        browsers_identified.send(browsers=new_browsers)
    if views:  # (after the commit; a receiver's failure fails the batch, which is tried again)
        page_views_stored.send(views=views)
    return len(stored)


def _stored_before(identified: set[tuple[str, int]], stored_now: set[str]) -> list[IdentifiedPageView]:
    """The identified page views of a batch, (event id, site id), that an earlier try stored:
    announced again, since that try may have failed in a receiver (its entries stay pending and
    come back). The receivers are idempotent (segments evaluate again; a page view starts an
    automation once, and stops only runs that began before it), so views whose receivers did run
    count once. An event id sent again for another site (ids are the browser's) hands over nothing."""
    earlier = {pair for pair in identified if pair[0] not in stored_now}
    if not earlier:
        return []
    rows = db.session.execute(
        select(PageView.event_id, PageView.site_id, PageView.id, PageView.account_id, PageView.contact_id,
               PageView.url, PageView.path, PageView.received_at, PageView.match_url, PageView.match_path)
        .where(PageView.event_id.in_([event_id for event_id, _ in earlier]),
               PageView.contact_id.is_not(None), PageView.attached_at.is_(None)))
    return [IdentifiedPageView(*row[2:]) for row in rows if (row[0], row[1]) in earlier]


PAGE_VIEWS = Stream(EVENTS_STREAM, store_records)


def drain(redis, consumer: str | None = None) -> int:
    """Store every page view waiting in the stream now (tests, benchmarks, burst workers)."""
    return PAGE_VIEWS.drain(redis, consumer)
