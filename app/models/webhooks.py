"""Webhook deliveries: a JSON document to POST to a receiver, signed, tried until it is accepted
or its retries run out (app/webhooks.py). An automation's "Call a webhook" step writes one, in the
same transaction as its step run; a webhook subscription (app/subscriptions.py) one per event it
asked for."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class WebhookStatus(StrEnum):
    PENDING = "pending"      # to be tried (again) at next_attempt_at
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"        # every try failed


class WebhookSubscription(db.Model):
    """A receiver of the account's events (Settings → Webhooks, or the API): the types it asked for,
    the secret its deliveries are signed with (shown once), and whether it is paused (by its
    owner, or after a day of failing deliveries)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    # The event types (app/subscriptions.py, EVENT_TYPES) it receives.
    events: Mapped[list] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Why it is paused ("" while active), and since when its deliveries have failed without one
    # getting through (None: the last one did).
    paused_reason: Mapped[str] = mapped_column(String(300), default="")
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_subscription", "subscription_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # What receivers de-duplicate on: the same for every try of this delivery.
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=WebhookStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    response_status: Mapped[int | None] = mapped_column()
    error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whom it is about (erased with them) and the automation step that made it (one per step run).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    step_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("automation_step_runs.id", ondelete="CASCADE"), unique=True)
    # The subscription it is for (its delivery log), and the event type.
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40), default="", server_default="")
