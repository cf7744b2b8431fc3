"""What the marketer sees of page views: a contact's timeline and the tracking dashboard."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import case, func, select

from app import timezones
from app.extensions import db
from app.models import Automation, Browser, Campaign, Contact, CustomEvent, IdentityChange, PageView
from app.models.types import utcnow
from app.tracking import custom_events, identity

DASHBOARD_DAYS = 30


def timeline(account_id: int, contact_id: int,
             limit: int = 200) -> list[PageView | IdentityChange | CustomEvent]:
    """The contact's page views, custom events and what happened to their browsers, the latest first."""
    views = list(db.session.scalars(
        select(PageView).where(PageView.account_id == account_id, PageView.contact_id == contact_id)
        .order_by(PageView.received_at.desc()).limit(limit)))
    changes = identity.timeline_changes(account_id, contact_id)
    events = custom_events.contact_events(account_id, contact_id, limit)

    def moment(entry):
        return (entry.received_at if isinstance(entry, PageView) else
                entry.occurred_at if isinstance(entry, CustomEvent) else entry.at)
    return sorted(views + changes + events, key=moment, reverse=True)[:limit]


def identified_by(account_id: int, browsers: list[Browser]) -> dict[int, str]:
    """What identified each browser, in words ("Email “Spring sale”"), by browser id: two queries
    at most (campaign and automation names)."""
    campaign_ids = {b.message_id for b in browsers if b.channel in ("email", "sms")}
    automation_ids = {b.message_id for b in browsers if b.channel.startswith("automation_")}
    campaigns = dict(db.session.execute(select(Campaign.id, Campaign.name).where(
        Campaign.account_id == account_id, Campaign.id.in_(campaign_ids))).all()) if campaign_ids else {}
    automations = dict(db.session.execute(select(Automation.id, Automation.name).where(
        Automation.account_id == account_id, Automation.id.in_(automation_ids))).all()) \
        if automation_ids else {}
    described = {}
    for browser in browsers:
        channel = browser.channel
        if channel == identity.SIGN_IN:
            text = "Signed in on the website (verified identify)"
        elif channel == "test":
            text = "A test link"
        elif channel in ("email", "sms"):
            name = campaigns.get(browser.message_id)
            kind = "Email" if channel == "email" else "Text message"
            text = f"{kind} “{name}”" if name else f"A link in an {kind.lower()}" if channel == "email" \
                else "A link in a text message"
        elif channel.startswith("automation_"):
            name = automations.get(browser.message_id)
            kind = "email" if channel.endswith("email") else "text message"
            text = f"Automation “{name}” ({kind})" if name else f"An automation's {kind}"
        else:
            text = "A link"
        described[browser.id] = text
    return described


@dataclass(frozen=True)
class DayCount:
    day: date
    identified: int
    anonymous: int

    @property
    def total(self) -> int:
        return self.identified + self.anonymous


def views_per_day(account_id: int, days: int = DASHBOARD_DAYS, now: datetime | None = None,
                  zone: str = timezones.UTC) -> list[DayCount]:
    """Identified and anonymous page views per day of the account's time zone, oldest first, every
    day present. Counted per UTC hour in the database (at most 24 rows a day), and the hours added
    up into local days here: exact across a change of the clocks, on SQLite and PostgreSQL alike."""
    today = timezones.local(now or utcnow(), zone).date()
    first = today - timedelta(days=days - 1)
    since = timezones.to_utc(datetime(first.year, first.month, first.day), zone)
    hour = func.strftime("%Y-%m-%d %H", PageView.received_at) if db.engine.dialect.name == "sqlite" \
        else func.to_char(PageView.received_at, "YYYY-MM-DD HH24")
    rows = db.session.execute(
        select(hour.label("hour"),
               func.sum(case((PageView.contact_id.is_not(None), 1), else_=0)),
               func.sum(case((PageView.contact_id.is_(None), 1), else_=0)))
        .where(PageView.account_id == account_id, PageView.received_at >= since)
        .group_by(hour)).all()
    counts: dict[date, list[int]] = {}
    for stamp, identified, anonymous in rows:
        moment = datetime.strptime(str(stamp), "%Y-%m-%d %H").replace(tzinfo=timezone.utc)
        totals = counts.setdefault(timezones.local(moment, zone).date(), [0, 0])
        totals[0] += int(identified or 0)
        totals[1] += int(anonymous or 0)
    return [DayCount(first + timedelta(days=offset), *counts.get(first + timedelta(days=offset), (0, 0)))
            for offset in range(days)]


def top_pages(account_id: int, days: int = DASHBOARD_DAYS, limit: int = 10) -> list[tuple[str, int]]:
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        select(PageView.path, func.count().label("views")).where(PageView.account_id == account_id,
                                                                  PageView.received_at >= since)
        .group_by(PageView.path).order_by(func.count().desc(), PageView.path).limit(limit))
    return [(path, views) for path, views in rows]


def identified_visitors(account_id: int, days: int = DASHBOARD_DAYS, limit: int = 20):
    """Contacts seen on the website recently: (contact, views, last visit), latest first."""
    since = utcnow() - timedelta(days=days)
    last = func.max(PageView.received_at)
    rows = db.session.execute(
        select(Contact, func.count(PageView.id), last).join(PageView, PageView.contact_id == Contact.id)
        .where(PageView.account_id == account_id, Contact.account_id == account_id,
               PageView.received_at >= since)
        .group_by(Contact.id).order_by(last.desc()).limit(limit)).all()
    return [(contact, views, seen) for contact, views, seen in rows]
