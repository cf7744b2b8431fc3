"""The tracked website of an account, its audit trail and the page-view events it sends."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.accounts import User
from app.models.contacts import Contact, JSONDocument
from app.models.types import UTCDateTime, utcnow


class TrackingSite(db.Model):
    """One tracked website per account; the site key is the public, random id in the embed code."""

    __tablename__ = "tracking_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), unique=True)
    site_key: Mapped[str] = mapped_column(String(32), unique=True)
    website_url: Mapped[str] = mapped_column(String(2048))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Send nothing from browsers with Global Privacy Control or Do Not Track on.
    respect_privacy_signals: Mapped[bool] = mapped_column(Boolean, default=True)
    # First-party mode: the website's own server proxies Footfall under /ff/ and /collect sets the
    # cookies (app/tracking/first_party.py); the proxy proves itself with this secret.
    first_party: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    proxy_secret: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # Verified identify (app/tracking/identity.py): the secret the website's server signs its
    # signed-in customers' emails with; "" while it is off.
    identify_secret: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # Days anonymous page views are kept (1 to 30).
    anonymous_retention_days: Mapped[int] = mapped_column(default=30)
    # 2 = showing the code, 3 = showing the status; None once the wizard is finished.
    wizard_step: Mapped[int | None] = mapped_column(default=2)
    terms_version: Mapped[str] = mapped_column(String(32))
    terms_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    terms_accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    terms_accepted_by: Mapped[User | None] = relationship()


class TrackingAuditEntry(db.Model):
    """Who changed the tracking setup, when, and how."""

    __tablename__ = "tracking_audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("tracking_sites.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class PageView(db.Model):
    """One page view sent by the embed code. Append-only; no IP address is ever stored."""

    __tablename__ = "page_views"
    __table_args__ = (
        Index("ix_page_views_site_received", "site_id", "received_at"),
        Index("ix_page_views_account_contact_received", "account_id", "contact_id", "received_at"),
        # Covers segment evaluation: a range of time, then contact and URL forms read from the
        # index alone (no table lookups), and the dashboard's counts per window.
        Index("ix_page_views_account_received_match", "account_id", "received_at", "contact_id",
              "match_path", "match_url"),
        Index("ix_page_views_anonymous_received", "account_id", "received_at",
              postgresql_where=text("contact_id IS NULL"), sqlite_where=text("contact_id IS NULL")),
        # A browser's earlier anonymous views, attached when it is identified (app/tracking/identity.py).
        Index("ix_page_views_anonymous_visitor", "site_id", "visitor_id", "received_at",
              postgresql_where=text("contact_id IS NULL"), sqlite_where=text("contact_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("tracking_sites.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(2048))
    path: Mapped[str] = mapped_column(String(2048))
    # What URL rules compare (docs/architecture.md, "URL rules"): no scheme, no `www.`, host in lower case, no
    # trailing slash, no cid: "shop.example/pricing?plan=pro"; and from the path on: "/pricing?plan=pro".
    match_url: Mapped[str] = mapped_column(String(2048), default="")
    match_path: Mapped[str] = mapped_column(String(2048), default="")
    title: Mapped[str] = mapped_column(String(512), default="")
    referrer: Mapped[str] = mapped_column(String(2048), default="")
    utm_source: Mapped[str] = mapped_column(String(200), default="")
    utm_medium: Mapped[str] = mapped_column(String(200), default="")
    utm_campaign: Mapped[str] = mapped_column(String(200), default="")
    utm_term: Mapped[str] = mapped_column(String(200), default="")
    utm_content: Mapped[str] = mapped_column(String(200), default="")
    device: Mapped[str] = mapped_column(String(10), default="desktop")
    client_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An earlier anonymous view of a browser, attached to the contact when the browser was
    # identified (the account's "earlier visits" choice): when. Never fires page-view triggers.
    attached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Browser(db.Model):
    """A browser (a visitor id of a site) that was identified as a contact, or flagged as possibly
    forwarded (app/tracking/identity.py). Its page views belong to `contact_id`; None while it is
    anonymous: forgotten, or opened a link of a contact who had their limit of browsers already
    (`forwarded_contact_id`). Anonymous browsers that never were are not recorded."""

    __tablename__ = "browsers"
    __table_args__ = (
        Index("ix_browsers_site_visitor", "site_id", "visitor_id", unique=True),
        Index("ix_browsers_contact_seen", "contact_id", "last_seen_at"),
        Index("ix_browsers_forwarded", "forwarded_contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("tracking_sites.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    forwarded_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # What identified it: the message in the cid (a campaign's or an automation's id, by channel:
    # email, sms, automation_email, automation_sms, test), or "sign-in" (verified identify).
    message_id: Mapped[int] = mapped_column(default=0)
    channel: Mapped[str] = mapped_column(String(20), default="")
    device: Mapped[str] = mapped_column(String(10), default="desktop")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "Forget this browser": links issued before then no longer identify it.
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdentityChange(db.Model):
    """A line of a contact's timeline about their browsers: identified, switched to or away from
    another contact (the latest click wins), flagged as possibly forwarded, forgotten, earlier
    visits attached."""

    __tablename__ = "identity_changes"
    __table_args__ = (Index("ix_identity_changes_contact_at", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    browser_id: Mapped[int | None] = mapped_column(ForeignKey("browsers.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    other_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    device: Mapped[str] = mapped_column(String(10), default="")
    count: Mapped[int] = mapped_column(default=0)  # earlier views attached
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    other_contact: Mapped[Contact | None] = relationship(foreign_keys=[other_contact_id], lazy="selectin")


class RetentionRun(db.Model):
    """The last run of the anonymous-event retention job, per account: shown to the owner."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), unique=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[int] = mapped_column(default=0)


class CustomEvent(db.Model):
    """Something a contact (or an anonymous visitor) did that is not a page view: sent by the
    website (`footfall('track', 'signup', {plan: 'pro'})`) or by a server (POST /api/v1/events).
    Append-only, stored in batches by the event pipeline like page views; anonymous ones are
    deleted with the anonymous page views (the site's retention)."""

    __tablename__ = "custom_events"
    __table_args__ = (
        Index("ix_custom_events_account_contact_at", "account_id", "contact_id", "occurred_at"),
        # Segment and automation rules: one name over a window, then the contacts.
        Index("ix_custom_events_account_name_at", "account_id", "name", "occurred_at", "contact_id"),
        Index("ix_custom_events_anonymous_received", "account_id", "received_at",
              postgresql_where=text("contact_id IS NULL"), sqlite_where=text("contact_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The browser's random id, or (from the API) a digest of the account and the sender's id: a
    # second store of the same event is a no-op.
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # The website it came from (None: from the API) and its browser.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("tracking_sites.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(10))  # website | api
    name: Mapped[str] = mapped_column(String(64))
    # {key: text, number, yes/no or null}, at most 50 keys.
    properties: Mapped[dict] = mapped_column(JSONDocument, default=dict)
    url: Mapped[str] = mapped_column(String(2048), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
