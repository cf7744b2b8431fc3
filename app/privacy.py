"""Privacy requests about one contact: everything stored about them as a JSON document (export),
and erasure of all of it (which is also what deleting a contact does)."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from app.extensions import db
from app.models import (Automation, AutomationRun, AutomationStepRun, Browser, Campaign, Contact, CustomEvent,
                        ContactImport, ContactList, Email, IdentityChange, LinkClick, PageView, Segment,
                        SegmentMembershipChange, ShortLink, SmsMessage, Tag, WebhookDelivery, contact_tags,
                        list_members, segment_members)
from app.models.api import IdempotentRequest
from app.models.contacts import ImportStatus
from app.models.types import utcnow

log = logging.getLogger(__name__)


# Export -----------------------------------------------------------------------------------------

def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _rows(statement) -> list[dict]:
    return [{key: _plain(value) for key, value in row.items()}
            for row in db.session.execute(statement).mappings()]


def export_contact(account_id: int, contact_id: int) -> dict | None:
    """Everything stored about a contact of the account, JSON-ready (times in ISO 8601, UTC);
    None when the account has no such contact."""
    (contact,) = _rows(select(Contact.id, Contact.email, Contact.first_name, Contact.last_name, Contact.phone,
                              Contact.company, Contact.birthday, Contact.anniversary,
                              Contact.email_status.label("email_subscription"),
                              Contact.sms_status.label("sms_subscription"), Contact.created_at)
                       .where(Contact.id == contact_id, Contact.account_id == account_id)) or (None,)
    if contact is None:
        return None
    clicks = _rows(select(LinkClick.url, LinkClick.clicked_at, LinkClick.channel, LinkClick.campaign_id,
                          LinkClick.email_id)
                   .where(LinkClick.account_id == account_id, LinkClick.contact_id == contact_id)
                   .order_by(LinkClick.clicked_at))
    emails = _rows(_messages(Email, account_id, contact_id, Email.subject, Email.to_address, Email.kind,
                             Email.delivered_at.label("sent_at")))
    sms = _rows(_messages(SmsMessage, account_id, contact_id, SmsMessage.body.label("text"),
                          SmsMessage.to_number, SmsMessage.delivered_at.label("sent_at")))
    for message in emails:
        message["clicks"] = _take_clicks(clicks, lambda click, message=message: (
            click["email_id"] == message["id"] or (
                click["email_id"] is None and click["channel"] == "email"
                and message["campaign_id"] is not None and click["campaign_id"] == message["campaign_id"])))
    for message in sms:
        message["clicks"] = _take_clicks(clicks, lambda click, message=message: click["channel"] == "sms"
                                         and message["campaign_id"] is not None
                                         and click["campaign_id"] == message["campaign_id"])
    return {
        "exported_at": _plain(utcnow()),
        "contact": contact,
        # The account's own fields, by key (dates as ISO 8601: --MM-DD without a year).
        "fields": db.session.scalar(select(Contact.custom).where(Contact.id == contact_id)) or {},
        "lists": _rows(select(ContactList.name, list_members.c.added_at)
                       .join(list_members, list_members.c.list_id == ContactList.id)
                       .where(ContactList.account_id == account_id, list_members.c.contact_id == contact_id)
                       .order_by(ContactList.name)),
        "tags": _rows(select(Tag.name, contact_tags.c.added_at)
                      .join(contact_tags, contact_tags.c.tag_id == Tag.id)
                      .where(Tag.account_id == account_id, contact_tags.c.contact_id == contact_id)
                      .order_by(Tag.name)),
        "segments": _rows(select(Segment.name, segment_members.c.joined_at)
                          .join(segment_members, segment_members.c.segment_id == Segment.id)
                          .where(Segment.account_id == account_id, segment_members.c.contact_id == contact_id)
                          .order_by(Segment.name)),
        "segment_history": _rows(select(Segment.name.label("segment"), SegmentMembershipChange.change,
                                        SegmentMembershipChange.changed_at)
                                 .join(Segment, Segment.id == SegmentMembershipChange.segment_id)
                                 .where(SegmentMembershipChange.account_id == account_id,
                                        SegmentMembershipChange.contact_id == contact_id)
                                 .order_by(SegmentMembershipChange.changed_at, SegmentMembershipChange.id)),
        "emails": emails,
        "sms": sms,
        # Clicks in automations' text messages, whose links name no message.
        "other_clicks": [_click(click) for click in clicks],
        "automation_runs": _rows(select(Automation.name.label("automation"), AutomationRun.status,
                                        AutomationRun.entered_at,
                                        AutomationRun.finished_at.label("exited_at"),
                                        AutomationRun.exit_reason)
                                 .join(Automation, Automation.id == AutomationRun.automation_id)
                                 .where(AutomationRun.account_id == account_id,
                                        AutomationRun.contact_id == contact_id)
                                 .order_by(AutomationRun.entered_at, AutomationRun.id)),
        # Only the columns a person can read: a contact may have many page views.
        "page_views": _rows(select(PageView.received_at.label("viewed_at"), PageView.client_time,
                                   PageView.url, PageView.title, PageView.referrer, PageView.utm_source,
                                   PageView.utm_medium, PageView.utm_campaign, PageView.utm_term,
                                   PageView.utm_content, PageView.device, PageView.visitor_id)
                            .where(PageView.account_id == account_id, PageView.contact_id == contact_id)
                            .order_by(PageView.received_at, PageView.id)),
        "events": _rows(select(CustomEvent.name, CustomEvent.properties, CustomEvent.source, CustomEvent.url,
                               CustomEvent.occurred_at, CustomEvent.received_at)
                        .where(CustomEvent.account_id == account_id, CustomEvent.contact_id == contact_id)
                        .order_by(CustomEvent.occurred_at, CustomEvent.id)),
        "browsers": _rows(select(Browser.device, Browser.first_seen_at, Browser.last_seen_at,
                                 Browser.channel.label("identified_by"), Browser.visitor_id)
                          .where(Browser.account_id == account_id, Browser.contact_id == contact_id)
                          .order_by(Browser.first_seen_at)),
        "identity_changes": _rows(select(IdentityChange.kind, IdentityChange.at, IdentityChange.device)
                                  .where(IdentityChange.account_id == account_id,
                                         IdentityChange.contact_id == contact_id)
                                  .order_by(IdentityChange.at, IdentityChange.id)),
    }


def _messages(model, account_id: int, contact_id: int, *columns):
    """A contact's emails or text messages with the campaign or automation that sent each."""
    step_column = AutomationStepRun.email_id if model is Email else AutomationStepRun.sms_id
    return (select(model.id, model.campaign_id, Campaign.name.label("campaign"),
                   Automation.name.label("automation"), *columns, model.status, model.created_at)
            .outerjoin(Campaign, Campaign.id == model.campaign_id)
            .outerjoin(AutomationStepRun, step_column == model.id)
            .outerjoin(AutomationRun, AutomationRun.id == AutomationStepRun.run_id)
            .outerjoin(Automation, Automation.id == AutomationRun.automation_id)
            .where(model.account_id == account_id, model.contact_id == contact_id)
            .order_by(model.created_at, model.id))


def _click(click: dict) -> dict:
    return {"url": click["url"], "clicked_at": click["clicked_at"], "channel": click["channel"]}


def _take_clicks(clicks: list[dict], belongs) -> list[dict]:
    """The clicks that belong to a message, removed from `clicks` (each click is listed once)."""
    taken, left = [], []
    for click in clicks:
        (taken if belongs(click) else left).append(click)
    clicks[:] = left
    return [_click(click) for click in taken]


# Erasure ----------------------------------------------------------------------------------------

def erase_contact(account_id: int, contact_id: int, *, erased_by_user_id: int | None = None) -> bool:
    """Delete a contact of the account and everything about them, in bulk statements: page views,
    list, tag and segment memberships and their history, emails, text messages, short links, link
    clicks, automation runs and their steps, webhook calls about them, API answers showing
    them. False when the account has
    no such contact.

    Every row is deleted explicitly rather than left to the foreign keys' cascades, so erasure
    does not depend on the database enforcing them. Links already sent to the contact identify
    nobody afterwards (app/tracking/cid.py, issued_to_contact)."""
    if db.session.scalar(select(Contact.id)
                         .where(Contact.id == contact_id, Contact.account_id == account_id)) is None:
        return False
    emails = select(Email.id).where(Email.account_id == account_id, Email.contact_id == contact_id)
    runs = select(AutomationRun.id).where(AutomationRun.account_id == account_id,
                                          AutomationRun.contact_id == contact_id)
    step_runs = select(AutomationStepRun.id).where(AutomationStepRun.run_id.in_(runs))
    member_of = select(segment_members.c.segment_id).where(segment_members.c.contact_id == contact_id)
    for statement in (
        update(Segment).where(Segment.account_id == account_id, Segment.id.in_(member_of))
        .values(member_count=Segment.member_count - 1),
        delete(LinkClick).where(LinkClick.account_id == account_id,
                                or_(LinkClick.contact_id == contact_id, LinkClick.email_id.in_(emails))),
        delete(PageView).where(PageView.account_id == account_id, PageView.contact_id == contact_id),
        delete(CustomEvent).where(CustomEvent.account_id == account_id, CustomEvent.contact_id == contact_id),
        delete(IdentityChange).where(IdentityChange.account_id == account_id,
                                     IdentityChange.contact_id == contact_id),
        update(IdentityChange).where(IdentityChange.account_id == account_id,
                                     IdentityChange.other_contact_id == contact_id)
        .values(other_contact_id=None),
        delete(Browser).where(Browser.account_id == account_id,
                              or_(Browser.contact_id == contact_id,
                                  Browser.forwarded_contact_id == contact_id)),
        delete(WebhookDelivery).where(WebhookDelivery.account_id == account_id,
                                      or_(WebhookDelivery.contact_id == contact_id,
                                          WebhookDelivery.step_run_id.in_(step_runs))),
        delete(IdempotentRequest).where(IdempotentRequest.account_id == account_id,
                                        IdempotentRequest.contact_id == contact_id),
        delete(AutomationStepRun).where(AutomationStepRun.run_id.in_(runs)),
        delete(AutomationRun).where(AutomationRun.id.in_(runs)),
        delete(Email).where(Email.id.in_(emails)),
        delete(SmsMessage).where(SmsMessage.account_id == account_id, SmsMessage.contact_id == contact_id),
        delete(ShortLink).where(ShortLink.account_id == account_id, ShortLink.contact_id == contact_id),
        delete(SegmentMembershipChange).where(SegmentMembershipChange.account_id == account_id,
                                              SegmentMembershipChange.contact_id == contact_id),
        delete(segment_members).where(segment_members.c.contact_id == contact_id),
        delete(list_members).where(list_members.c.contact_id == contact_id),
        delete(contact_tags).where(contact_tags.c.contact_id == contact_id),
        # An uploaded CSV file may hold the contact's row, and a finished import no longer needs its
        # file (run_import drops it on finishing; imports finished before it did kept theirs).
        update(ContactImport).where(ContactImport.account_id == account_id,
                                    ContactImport.status.in_((ImportStatus.DONE, ImportStatus.FAILED)),
                                    ContactImport.csv_text != "")
        .values(csv_text=""),
    ):
        # Not synchronised with objects the session has loaded: that would fetch every deleted row
        # (all page views). The caller's commit expires them.
        db.session.execute(statement, execution_options={"synchronize_session": False})
    db.session.execute(delete(Contact).where(Contact.id == contact_id, Contact.account_id == account_id))
    # The audit trail names no personal data: ids only.
    log.info("contact #%d of account #%d erased by user #%s", contact_id, account_id, erased_by_user_id)
    return True
