"""Clicks on links in messages: the redirect pushes one stream entry (no database in the request);
the worker's consumer stores them in batches."""
from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from app.extensions import db, per_app
from app.messaging.tokens import Click
from app.models import Campaign, Contact, Email, LinkClick
from app.models.types import insert_new
from app.signals import links_clicked
from app.streams import Stream
from app.tracking.cid import issued_to_contact, read_cid

CLICKS_STREAM = "footfall:clicks"
# Test sends' links redirect this long: enough to check them, too short to serve as anyone's
# permanent redirect on this instance's domain.
TEST_LINK_SECONDS = 7 * 24 * 3600


def link_works(link: Click) -> bool:
    """Whether a click link redirects: only links of messages that were sent. A campaign's links
    once it has started (its test sends' links until they expire); an automation email's once the
    email was sent; an automation text message's always (its links exist only in short links made
    as it is sent). A campaign that was never sent is nobody's redirect on this domain.

    Answers that a message was sent are kept by the process (sent stays sent), so a redirect
    normally costs no query."""
    if link.expires is not None:
        return time.time() < link.expires
    if link.campaign_id is None and link.email_id is None:
        return True
    known = per_app("footfall.sent_messages", dict)
    key = (link.account_id, "campaign", link.campaign_id) if link.campaign_id is not None else \
        (link.account_id, "email", link.email_id)
    if key in known:
        return True
    if link.campaign_id is not None:
        sent = db.session.scalar(select(Campaign.started_at).where(Campaign.id == link.campaign_id,
                                                                  Campaign.account_id == link.account_id))
    else:
        sent = db.session.scalar(select(Email.delivered_at).where(Email.id == link.email_id,
                                                            Email.account_id == link.account_id))
    if sent is None:
        return False
    if len(known) > 100_000:
        known.clear()
    known[key] = True
    return True


def click_record(*, account_id: int, campaign_id: int | None, contact_id: int | None, channel: str, url: str,
                 email_id: int | None = None) -> str:
    return json.dumps({"id": secrets.token_hex(16), "a": account_id, "m": campaign_id, "c": contact_id,
                       "e": email_id, "ch": channel, "u": url[:2048], "t": int(time.time() * 1000)},
                      separators=(",", ":"))


def _identify(rows: list[dict]) -> None:
    """Keep a click's contact only if its link was made for that contact, so an erased contact's
    old links identify nobody, even once a new contact has their id: the cid of the link's
    destination, when it has one, and the message clicked in must both be younger than the
    contact (a click token carries no issue time of its own). A click that identifies nobody
    keeps only its campaign, for the campaign's counts; a message or campaign that is gone
    (erased with its contact, deleted) is left out. Three queries per batch."""
    def wanted(key):
        return {row[key] for row in rows if row[key] is not None}

    def lookup(statement, key):
        return {found[0]: found[1:] for found in db.session.execute(statement)} if wanted(key) else {}

    contacts = lookup(select(Contact.id, Contact.account_id, Contact.created_at)
                      .where(Contact.id.in_(wanted("contact_id"))), "contact_id")
    emails = lookup(select(Email.id, Email.contact_id, Email.created_at)
                    .where(Email.id.in_(wanted("email_id"))), "email_id")
    campaigns = lookup(select(Campaign.id, Campaign.started_at).where(Campaign.id.in_(wanted("campaign_id"))),
                       "campaign_id")

    def message_time(row: dict, contact_created_at: datetime | None) -> datetime | None:
        if row["email_id"] is not None:
            recipient, created_at = emails.get(row["email_id"], (None, None))
            return created_at if recipient == row["contact_id"] else None
        if row["campaign_id"] in campaigns:
            # A campaign's audience is fixed when it starts: contacts created later never got it.
            # Before it starts, only test sends to the marketer's own contact carry its links.
            (started_at,) = campaigns[row["campaign_id"]]
            return started_at or contact_created_at
        if row["campaign_id"] is not None:
            return None  # the campaign was deleted
        return contact_created_at  # an automation's text message: its links name no message

    for row in rows:
        account_id, created_at = contacts.get(row["contact_id"], (None, None))
        if account_id != row["account_id"]:
            created_at = None
        issue_times = [message_time(row, created_at)]
        claims = read_cid(_cid_in(row["url"]))
        if claims is not None and claims.contact_id == row["contact_id"]:
            issue_times.append(claims.issued)
        if not all(issued is not None and issued_to_contact(issued, created_at) for issued in issue_times):
            row["contact_id"] = row["email_id"] = None
        if row["email_id"] not in emails:
            row["email_id"] = None
        if row["campaign_id"] not in campaigns:
            row["campaign_id"] = None


def _cid_in(url: str) -> str | None:
    return next(iter(parse_qs(urlsplit(url).query).get("cid", [])), None)


def store_click_records(raw_records: list[bytes | str]) -> int:
    rows = []
    for raw in raw_records:
        try:
            record = json.loads(raw)
            rows.append({"click_id": str(record["id"]), "account_id": int(record["a"]),
                         "campaign_id": record.get("m"), "contact_id": record.get("c"),
                         "email_id": record.get("e"),
                         "channel": str(record.get("ch") or "email")[:10], "url": str(record["u"])[:2048],
                         "clicked_at": datetime.fromtimestamp(int(record["t"]) / 1000, timezone.utc)})
        except (ValueError, TypeError, KeyError):
            continue
    if not rows:
        return 0
    _identify(rows)
    stored = insert_new(LinkClick, rows, "click_id", returning=(LinkClick.id,))
    db.session.commit()
    # The batch's clicks of known contacts, stored now or by an earlier try (whose announcement may
    # have failed): webhook deliveries are made once per click whatever the tries.
    known = [row._asdict() for row in db.session.execute(
        select(LinkClick.click_id.label("id"), LinkClick.account_id, LinkClick.contact_id,
               LinkClick.campaign_id, LinkClick.channel, LinkClick.url, LinkClick.clicked_at)
        .where(LinkClick.click_id.in_([row["click_id"] for row in rows]), LinkClick.contact_id.is_not(None)))]
    if known:
        links_clicked.send(clicks=known)
    return len(stored)


CLICKS = Stream(CLICKS_STREAM, store_click_records)
