"""Email and SMS campaigns: compose, choose the audience, schedule, test, and report.

Sending them (start, batches, resume, finish) is app/messaging/sending.py; rendering each
recipient's message is app/messaging/rendering.py.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, false, func, or_, select, update

from app.contacts import people
from app.contacts.fields import account_fields
from app.contacts.lists import account_lists
from app.extensions import db
from app.messaging import mail, personalise
from app.messaging.clicks import TEST_LINK_SECONDS
from app.messaging.rendering import Message, Renderer
from app.models import Campaign, Contact, Email, LinkClick, Segment, SmsMessage, User, list_members
from app.models.contacts import Subscription
from app.models.messaging import CHANNELS, DELIVERED, UNDELIVERED, CampaignStatus, DeliveryStatus
from app.models.types import utcnow
from app.segments.compiler import tree_condition

MAX_BODY_LENGTH = 500_000
MAX_SMS_LENGTH = 1600
# A campaign is scheduled at most this far ahead.
MAX_SCHEDULE_DAYS = 5 * 366


class CampaignError(ValueError):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def get_campaign(account_id: int, campaign_id: int) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.id == campaign_id,
                                                    Campaign.account_id == account_id))


def list_campaigns(account_id: int) -> list[Campaign]:
    return list(db.session.scalars(select(Campaign).where(Campaign.account_id == account_id)
                                   .order_by(Campaign.id.desc())))


def create_campaign(user: User, channel: str) -> Campaign:
    if channel not in CHANNELS:
        raise CampaignError("Choose email or SMS.", "channel")
    campaign = Campaign(account_id=user.account_id, created_by_id=user.id, channel=channel,
                        name="Untitled " + ("email" if channel == "email" else "SMS"),
                        status=CampaignStatus.DRAFT,
                        from_name=mail.sender_name(user.account.name) if channel == "email" else "")
    db.session.add(campaign)
    db.session.flush()
    return campaign


def account_segments(account_id: int) -> list[Segment]:
    return list(db.session.scalars(select(Segment).where(Segment.account_id == account_id)
                                   .order_by(Segment.name)))


def update_campaign(campaign: Campaign, *, name: str, subject: str = "", from_name: str = "", body: str = "",
                    list_ids: list[int] = (), segment_ids: list[int] = (), tag_links: bool = True) -> None:
    """Save a draft (only what can be saved at all is checked here; check_ready is for sending), or
    a campaign scheduled for later, which must stay ready to send."""
    _hold_changeable(campaign)
    name = (name or "").strip()
    if not name:
        raise CampaignError("Give the campaign a name.", "name")
    limit = MAX_BODY_LENGTH if campaign.channel == "email" else MAX_SMS_LENGTH
    if len(body or "") > limit:
        raise CampaignError(f"The message is too long: at most {limit:,} characters.", "body")
    for field, value, label in (("subject", subject, "The subject"),
                                ("from_name", from_name, "The From name")):
        if mail.breaks_lines(value):
            # An email header is one line: every message of the campaign would fail as it is sent.
            raise CampaignError(f"{label} must be on one line: remove the line break.", field)
    check_merge_fields(campaign, subject, from_name, body)
    wanted = {int(list_id) for list_id in list_ids}
    lists = [item for item in account_lists(campaign.account_id) if item.id in wanted]
    if len(lists) != len(wanted):
        raise CampaignError("Choose lists of this account.", "list_ids")
    wanted_segments = {int(segment_id) for segment_id in segment_ids}
    segments = [item for item in account_segments(campaign.account_id) if item.id in wanted_segments]
    if len(segments) != len(wanted_segments):
        raise CampaignError("Choose segments of this account.", "list_ids")
    campaign.segments = segments
    campaign.name, campaign.subject = name[:200], (subject or "").strip()[:300]
    campaign.from_name, campaign.body = (from_name or "").strip()[:100], body or ""
    campaign.lists, campaign.tag_links = lists, tag_links
    if campaign.status == CampaignStatus.SCHEDULED:
        check_ready(campaign)


def _hold_changeable(campaign: Campaign) -> None:
    """Lock the campaign's row while it is a draft or scheduled for later, so that the start job
    (which takes a due campaign in one UPDATE) waits for this change or has taken it already;
    CampaignError if it has."""
    changeable = or_(Campaign.status == CampaignStatus.DRAFT,
                     and_(Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at > utcnow()))
    held = db.session.execute(update(Campaign).where(Campaign.id == campaign.id, changeable)
                              .values(status=Campaign.status).execution_options(synchronize_session=False))
    if not held.rowcount:
        raise CampaignError("This campaign is already sending or sent; it can no longer be changed.", "name")


def check_ready(campaign: Campaign) -> None:
    if campaign.channel == "email" and not campaign.subject:
        raise CampaignError("Write a subject before sending.", "subject")
    if not campaign.body.strip():
        raise CampaignError("Write the message before sending.", "body")
    if not campaign.lists and not campaign.segments:
        raise CampaignError("Choose at least one list or segment to send to.", "list_ids")
    # A field it uses may have been deleted since it was saved.
    check_merge_fields(campaign, campaign.subject, campaign.from_name, campaign.body)


def audience_query(campaign: Campaign, *, as_of: datetime | None = None):
    """The contact ids a campaign goes to: members of its lists or of its segments (evaluated now,
    in the database), subscribed to the channel. With `as_of`, only contacts who existed, and list
    members who had joined, by then (a campaign resumed goes to nobody new)."""
    account_id = campaign.account_id
    audience = []
    if campaign.lists:
        members = select(list_members.c.contact_id).where(
            list_members.c.list_id.in_([item.id for item in campaign.lists]))
        if as_of is not None:
            members = members.where(list_members.c.added_at <= as_of)
        audience.append(Contact.id.in_(members))
    for segment in campaign.segments:
        audience.append(tree_condition(account_id, segment.rules))
    condition = [Contact.account_id == account_id, or_(*audience) if audience else false()]
    if as_of is not None:
        condition.append(Contact.created_at <= as_of)
    if campaign.channel == "email":
        condition.append(Contact.email_status == Subscription.SUBSCRIBED)
    else:
        condition += [Contact.sms_status == Subscription.SUBSCRIBED, Contact.phone != ""]
    return select(Contact.id).where(*condition)


def audience_count(campaign: Campaign) -> int:
    return db.session.scalar(select(func.count()).select_from(audience_query(campaign).subquery()))


def is_starting(campaign: Campaign, now: datetime | None = None) -> bool:
    """Sent now, or its time has come: the start job is about to take it (it shows its report)."""
    return campaign.status == CampaignStatus.SCHEDULED and campaign.scheduled_at is not None \
        and campaign.scheduled_at <= (now or utcnow())


def check_send_time(when: datetime | None) -> datetime:
    """A time to send at, in UTC when it has no zone; CampaignError unless it is in the future."""
    if when is None:
        raise CampaignError("Choose a date and time to send at.", "scheduled_at")
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if when <= utcnow():
        raise CampaignError("Choose a time in the future.", "scheduled_at")
    if when > utcnow() + timedelta(days=MAX_SCHEDULE_DAYS):
        raise CampaignError("Choose a time within the next five years.", "scheduled_at")
    return when


def schedule(campaign: Campaign, when: datetime | None) -> None:
    check_ready(campaign)
    when = check_send_time(when)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise CampaignError("This campaign is already sending or sent.", "name")
    campaign.status, campaign.scheduled_at = CampaignStatus.SCHEDULED, when


def unschedule(campaign: Campaign) -> bool:
    """Back to a draft, unless the start job has taken it or is about to (its time has come);
    whether it went back."""
    back = db.session.execute(update(Campaign).where(
        Campaign.id == campaign.id, Campaign.status == CampaignStatus.SCHEDULED,
        Campaign.scheduled_at > utcnow())
        .values(status=CampaignStatus.DRAFT, scheduled_at=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(campaign)
    return bool(back)


def send_test(campaign: Campaign, user: User, public_url: str, as_contact: Contact | None = None) -> Email:
    """Send the campaign to the signed-in user, marked as a test: with the merge fields of
    `as_contact` (one of the account's contacts) when given, else of the user's own contact. Its
    links identify the user's own contact either way, never the one whose values it shows."""
    if campaign.channel != "email":
        raise CampaignError("Test sends are for emails.", "name")
    if not campaign.body.strip():
        raise CampaignError("Write the message before sending a test.", "body")
    contact = people.contact_for_user(campaign.account_id, user.email)
    expires = int(time.time()) + TEST_LINK_SECONDS
    rendered = Renderer(Message.of_campaign(campaign), public_url, links_expire=expires).email(
        contact, values_of=as_contact)
    return mail.queue_email(account_id=campaign.account_id, sent_by_id=user.id, kind="campaign_test",
                            to_address=user.email, subject=f"[Test] {rendered['subject']}"[:300],
                            text_body=rendered["text_body"], html_body=rendered["html_body"],
                            from_name=rendered["from_name"])


def check_merge_fields(campaign: Campaign, subject: str, from_name: str, body: str) -> None:
    """CampaignError naming the first of the texts whose merge fields will not render."""
    fields = account_fields(campaign.account_id)
    texts = [("subject", subject, "The subject", False), ("from_name", from_name, "The From name", False),
             ("body", body, "The message" if campaign.channel == "email" else "The text", True)]
    for field, text, label, html in texts:
        try:
            personalise.check(text or "", fields, html=html and campaign.channel == "email", what=label)
        except personalise.MergeError as error:
            raise CampaignError(str(error), field) from None


def message_model(campaign: Campaign):
    """The table of a campaign's messages: emails or text messages."""
    return Email if campaign.channel == "email" else SmsMessage


@dataclass(frozen=True)
class Deliveries:
    """Where a campaign's messages are, as its report shows them."""

    delivered: int  # handed to the SMTP server or SMS provider, or kept in the outbox
    in_outbox: int  # of those, kept in the outbox
    waiting: int
    failed: int

    @property
    def handled(self) -> int:
        return self.delivered + self.failed


def delivery_counts(campaign: Campaign) -> Deliveries:
    model = message_model(campaign)
    counts = dict(db.session.execute(select(model.status, func.count())
                                     .where(model.campaign_id == campaign.id).group_by(model.status)).all())
    return Deliveries(delivered=sum(counts.get(status, 0) for status in DELIVERED),
                      in_outbox=counts.get(DeliveryStatus.OUTBOX, 0),
                      waiting=sum(counts.get(status, 0) for status in UNDELIVERED),
                      failed=counts.get(DeliveryStatus.FAILED, 0))


def failure_reasons(campaign: Campaign, limit: int = 5) -> list[tuple[str, int]]:
    """Why messages failed for good, most frequent first: [(the last error, how many)]."""
    model = message_model(campaign)
    return [tuple(row) for row in db.session.execute(
        select(model.error, func.count())
        .where(model.campaign_id == campaign.id, model.status == DeliveryStatus.FAILED)
        .group_by(model.error).order_by(func.count().desc(), model.error).limit(limit))]


def click_counts(campaign: Campaign) -> dict[str, int]:
    """Clicks and distinct clickers of a campaign."""
    row = db.session.execute(select(func.count(LinkClick.id), func.count(func.distinct(LinkClick.contact_id)))
                             .where(LinkClick.campaign_id == campaign.id)).one()
    return {"clicks": row[0], "clickers": row[1]}
