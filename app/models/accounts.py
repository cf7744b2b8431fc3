"""Accounts (tenants) and their users."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class Account(db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Tag every http(s) link in messages with cid, not only links to the tracked website.
    tag_all_links: Mapped[bool] = mapped_column(Boolean, default=False)
    # Identity rules (app/tracking/identity.py): how many browsers one contact's links identify
    # (within 30 days), and whether identifying a browser attaches its earlier anonymous views.
    browsers_per_contact: Mapped[int] = mapped_column(default=3, server_default="3")
    attach_earlier_visits: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The IANA time zone every time is shown and every schedule is read in (app/timezones.py).
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list["User"]] = relationship(back_populates="account")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship(back_populates="users")


class UserSession(db.Model):
    """One signed-in browser: its session cookie carries a random token whose SHA-256 is
    token_hash. Deleting the row signs that browser out, even if its cookie was copied."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The browser's User-Agent, shortened: shown on the account page to tell sessions apart.
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most once a minute (app/sessions.py), not on every request.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
