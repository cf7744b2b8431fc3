"""Messages the product sends (emails, SMS), campaigns, clicks and short links."""
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.accounts import User
from app.models.contacts import ContactList
from app.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.segments import Segment

# The channels messages go out on (campaigns, contacts' subscriptions, delivery metrics). A `cid`
# knows one more, "test" (app/tracking/cid.py), for links made by hand.
CHANNELS = ("email", "sms")


class CampaignStatus(StrEnum):
    """A campaign: DRAFT -> SCHEDULED (now or for later; back to DRAFT if unscheduled in time) ->
    SENDING (its start job took it) -> SENT (every recipient's message handled)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"


class DeliveryStatus(StrEnum):
    """One email or text message: QUEUED -> SENT (handed to the SMTP server or SMS provider) | OUTBOX
    (kept in the app: no MAIL_URL or SMS_URL) | FAILED (for good); RETRYING between attempts."""

    QUEUED = "queued"
    RETRYING = "retrying"
    SENT = "sent"
    OUTBOX = "outbox"
    FAILED = "failed"


DELIVERED = (DeliveryStatus.SENT, DeliveryStatus.OUTBOX)
# A message that needs nothing more: delivered, or failed for good.
HANDLED = (*DELIVERED, DeliveryStatus.FAILED)
# A message still to be delivered: its job is waiting or will try again.
UNDELIVERED = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)

campaign_lists = Table(
    "campaign_lists", db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True),
)


class Campaign(db.Model):
    """An email or SMS sent to the contacts of one or more lists, now or at a set time."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10), default="email")  # email | sms
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300), default="")
    from_name: Mapped[str] = mapped_column(String(100), default="")
    # The email's HTML, or the SMS text.
    body: Mapped[str] = mapped_column(Text, default="")
    tag_links: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default=CampaignStatus.DRAFT)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipients: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lists: Mapped[list[ContactList]] = relationship(secondary=campaign_lists, order_by=ContactList.name)
    segments: Mapped[list["Segment"]] = relationship(secondary="campaign_segments", order_by="Segment.name")


class Email(db.Model):
    """One email to one recipient; with no MAIL_URL the row itself is the outbox copy."""

    __tablename__ = "emails"
    __table_args__ = (UniqueConstraint("campaign_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    reply_to: Mapped[str] = mapped_column(String(254), default="")
    # The sender's name (an automation step's, or a campaign's for this recipient: merge fields
    # filled); empty: the campaign's, else MAIL_FROM's.
    from_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Extra headers as "Name: value" lines (List-Unsubscribe).
    headers: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    transport: Mapped[str] = mapped_column(String(20), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sent_by: Mapped[User | None] = relationship()


class SmsMessage(db.Model):
    """One text message to one recipient; with no SMS_URL the row itself is the outbox copy."""

    __tablename__ = "sms_messages"
    __table_args__ = (UniqueConstraint("campaign_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    transport: Mapped[str] = mapped_column(String(20), default="")
    provider_id: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShortLink(db.Model):
    """/s/<code>: a short link for SMS, to a (tagged) destination."""

    __tablename__ = "short_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkClick(db.Model):
    """A click on a link in an email or SMS, recorded by a worker from the redirect's Redis entry."""

    __tablename__ = "link_clicks"
    __table_args__ = (Index("ix_link_clicks_account_contact", "account_id", "contact_id", "clicked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    click_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                                    index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10), default="email")
    # The message clicked in, when known (automation emails, which belong to no campaign).
    email_id: Mapped[int | None] = mapped_column(ForeignKey("emails.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(String(2048))
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
