"""Contacts: the people an account emails and texts, and who may be identified on its website;
their lists and tags, and CSV imports."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

# A JSON document: JSONB on PostgreSQL (compared and indexed as data, not text).
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class Subscription(StrEnum):
    """A contact's subscription to a channel (email_status, sms_status): messages go to SUBSCRIBED only."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


class ImportStatus(StrEnum):
    """A CSV import: MAPPING (uploaded, its columns being matched to fields) -> QUEUED -> RUNNING
    -> DONE | FAILED."""

    MAPPING = "mapping"
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
    company: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Dates as ISO 8601 text: YYYY-MM-DD, or --MM-DD without a year; empty when unknown.
    birthday: Mapped[str] = mapped_column(String(10), default="", server_default="")
    anniversary: Mapped[str] = mapped_column(String(10), default="", server_default="")
    # The account's own fields (ContactField), by key: text, number, yes/no (true/false), a date
    # as above, or one of the field's choices. A key with no value is absent.
    custom: Mapped[dict] = mapped_column(JSONDocument, default=dict, server_default="{}")
    email_status: Mapped[str] = mapped_column(String(20), default=Subscription.SUBSCRIBED)
    sms_status: Mapped[str] = mapped_column(String(20), default=Subscription.SUBSCRIBED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lists: Mapped[list[ContactList]] = relationship(secondary=list_members, order_by=ContactList.name)
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, order_by=Tag.name)

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    CHOICE = "choice"


class ContactField(db.Model):
    """A field an account adds to its contacts (app/contacts/fields.py); the values are in
    Contact.custom under its key. Key and type are fixed once created: values and rules use them."""

    __tablename__ = "contact_fields"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    # The allowed values of a choice field, in the order offered.
    choices: Mapped[list] = mapped_column(JSON, default=list)
    # What a message shows when the contact has no value (personalisation), as entered.
    default: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    # Which column goes to which field: {"0": "email", "3": "plan", "4": ""} (empty: not imported),
    # chosen on the mapping page; null for an import started with the columns' own names.
    mapping: Mapped[dict | None] = mapped_column(JSON)
    # JSON list of {"row": n, "reason": "..."} for skipped rows.
    report: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
