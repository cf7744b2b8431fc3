"""Contacts: the people an account emails and texts, and who may be identified on its website;
their lists and tags, and CSV imports."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow



class Subscription(StrEnum):
    """A contact's subscription to a channel (email_status, sms_status): messages go to SUBSCRIBED only."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


class ImportStatus(StrEnum):
    """A CSV import: QUEUED -> RUNNING -> DONE | FAILED."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# An import that may still change: its job is waiting or running.
UNFINISHED_IMPORT = (ImportStatus.QUEUED, ImportStatus.RUNNING)

list_members = Table(
    "list_members", db.metadata,
    Column("list_id", ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("added_at", UTCDateTime, nullable=False, default=utcnow),
)

contact_tags = Table(
    "contact_tags", db.metadata,
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("added_at", UTCDateTime, nullable=False, default=utcnow),
)


class ContactList(db.Model):
    __tablename__ = "contact_lists"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tag(db.Model):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contact(db.Model):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    # E.164 (+14155550123) or empty.
    phone: Mapped[str] = mapped_column(String(20), default="")
    email_status: Mapped[str] = mapped_column(String(20), default=Subscription.SUBSCRIBED)
    sms_status: Mapped[str] = mapped_column(String(20), default=Subscription.SUBSCRIBED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lists: Mapped[list[ContactList]] = relationship(secondary=list_members, order_by=ContactList.name)
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, order_by=Tag.name)

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class ContactImport(db.Model):
    """A CSV import, run as a job; its report says what was imported and what was skipped, and why."""

    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    # Up to 5 MB, read only by the import job (not by the status page it polls): deferred. Emptied
    # when the import ends, however it ends.
    csv_text: Mapped[str] = mapped_column(Text, deferred=True)
    status: Mapped[str] = mapped_column(String(20), default=ImportStatus.QUEUED)
    imported: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    # Progress: the rows after the header read so far (their contacts committed), of the file's
    # lines counted on upload (about the rows: a quoted cell may span lines).
    rows_read: Mapped[int] = mapped_column(default=0, server_default="0")
    rows_total: Mapped[int] = mapped_column(default=0, server_default="0")
    # JSON list of {"row": n, "reason": "..."} for skipped rows.
    report: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
