"""A contact's message history: the emails, text messages and link clicks, newest first."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Email, LinkClick, SmsMessage


@dataclass
class MessageHistory:
    emails: list[Email]
    sms: list[SmsMessage]
    clicks: list[LinkClick]


def message_history(account_id: int, contact_id: int, limit: int = 50) -> MessageHistory:
    """The emails, text messages and link clicks of a contact, newest first."""
    def newest(model, when):
        return list(db.session.scalars(select(model).where(model.account_id == account_id,
                                                           model.contact_id == contact_id)
                                       .order_by(when.desc(), model.id.desc()).limit(limit)))
    return MessageHistory(emails=newest(Email, Email.created_at),
                          sms=newest(SmsMessage, SmsMessage.created_at),
                          clicks=newest(LinkClick, LinkClick.clicked_at))
