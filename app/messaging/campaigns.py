"""Email and SMS campaigns: compose, audience, test sends, scheduling, and sending in batches.

Sending: start_campaign (a job) resolves the audience in SQL and enqueues one job per batch of
recipients; send_batch renders each recipient's message (links tagged with their cid and routed
through the click redirect, an unsubscribe link) and delivers the batch over one connection. A
message row per campaign and contact (unique) means a retried batch never sends twice.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial

from flask import render_template
from sqlalchemy import and_, false, func, or_, select, update

from app.contacts import people
from app.contacts.lists import account_lists
from app.extensions import db
from app.messaging import mail, sms
from app.messaging.clicks import TEST_LINK_SECONDS
from app.messaging.links import tag_url
from app.messaging.rendering import html_to_text, rewrite_links, should_tag
from app.messaging.tokens import Click, Unsubscribe, click_token, permanent_token, unsubscribe_token
from app.models import Account, Campaign, Contact, Email, Segment, SmsMessage, User, list_members
from app.models.contacts import SUBSCRIBED
from app.models.messaging import CHANNELS
from app.models.types import insert_new, utcnow
from app.queues import enqueue, enqueue_after_commit, pending_jobs
from app.segments.compiler import tree_condition
from app.tracking.cid import issued_to_contact, make_cid
from app.tracking.setup import get_site
from app.tracking.urls import site_host

BATCH_SIZE = 100
# A message in one of these states needs nothing more: delivered, or failed for good.
HANDLED = ("sent", "outbox", "failed")
log = logging.getLogger(__name__)
# A campaign sending for this long with no batch job left has lost its jobs (see resume_stalled_campaigns).
STALLED_AFTER = timedelta(minutes=1)
MAX_BODY_LENGTH = 500_000
MAX_SMS_LENGTH = 1600


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
                        name="Untitled " + ("email" if channel == "email" else "SMS"), status="draft",
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
    if campaign.status == "scheduled":
        check_ready(campaign)


def _hold_changeable(campaign: Campaign) -> None:
    """Lock the campaign's row while it is a draft or scheduled for later, so that the start job
    (which takes a due campaign in one UPDATE) waits for this change or has taken it already;
    CampaignError if it has."""
    changeable = or_(Campaign.status == "draft",
                     and_(Campaign.status == "scheduled", Campaign.scheduled_at > utcnow()))
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
        condition.append(Contact.email_status == SUBSCRIBED)
    else:
        condition += [Contact.sms_status == SUBSCRIBED, Contact.phone != ""]
    return select(Contact.id).where(*condition)


def audience_count(campaign: Campaign) -> int:
    return db.session.scalar(select(func.count()).select_from(audience_query(campaign).subquery()))


def is_starting(campaign: Campaign, now: datetime | None = None) -> bool:
    """Sent now, or its time has come: the start job is about to take it (it shows its report)."""
    return campaign.status == "scheduled" and campaign.scheduled_at is not None \
        and campaign.scheduled_at <= (now or utcnow())


def check_send_time(when: datetime | None) -> datetime:
    """A time to send at, in UTC when it has no zone; CampaignError unless it is in the future."""
    if when is None:
        raise CampaignError("Choose a date and time to send at.", "scheduled_at")
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if when <= utcnow():
        raise CampaignError("Choose a time in the future.", "scheduled_at")
    return when


def send_now(campaign: Campaign, public_url: str) -> None:
    check_ready(campaign)
    if campaign.status not in ("draft", "scheduled"):
        raise CampaignError("This campaign is already sending or sent.", "name")
    campaign.status, campaign.scheduled_at = "scheduled", utcnow()
    db.session.flush()
    enqueue_start(campaign, public_url)


def schedule(campaign: Campaign, when: datetime | None) -> None:
    check_ready(campaign)
    when = check_send_time(when)
    if campaign.status not in ("draft", "scheduled"):
        raise CampaignError("This campaign is already sending or sent.", "name")
    campaign.status, campaign.scheduled_at = "scheduled", when


def unschedule(campaign: Campaign) -> bool:
    """Back to a draft, unless the start job has taken it or is about to (its time has come);
    whether it went back."""
    back = db.session.execute(update(Campaign).where(
        Campaign.id == campaign.id, Campaign.status == "scheduled", Campaign.scheduled_at > utcnow())
        .values(status="draft", scheduled_at=None).execution_options(synchronize_session=False)).rowcount
    db.session.refresh(campaign)
    return bool(back)


# A campaign's start job, by channel: each is retried as its channel's deliveries are (app/queues.py).
START_JOBS = {"email": "worker.jobs.messages.start_campaign", "sms": "worker.jobs.sms.start_campaign"}


def enqueue_start(campaign: Campaign, public_url: str) -> None:
    enqueue_after_commit(db.session, START_JOBS[campaign.channel], campaign.id, public_url,
                         job_id=f"campaign-{campaign.id}-start")


def start_due_campaigns(public_url: str, now: datetime | None = None) -> list[int]:
    """Enqueue the start of every scheduled campaign now due (the periodic sweep)."""
    due = db.session.execute(select(Campaign.id, Campaign.channel).where(
        Campaign.status == "scheduled", Campaign.scheduled_at <= (now or utcnow()))).all()
    for campaign_id, channel in due:
        enqueue(START_JOBS[channel], campaign_id, public_url, job_id=f"campaign-{campaign_id}-start")
    return [campaign_id for campaign_id, _ in due]


def resume_stalled_campaigns(public_url: str, now: datetime | None = None) -> list[int]:
    """Enqueue again the batches of campaigns still sending a while after they started with no
    batch job left to run (the jobs were lost: Redis lost them, or went away as they were being
    enqueued). A batch skips the recipients already handled, so nobody gets a message twice."""
    stalled = list(db.session.scalars(select(Campaign).where(
        Campaign.status == "sending", Campaign.started_at <= (now or utcnow()) - STALLED_AFTER)))
    resumed = []
    for campaign in stalled:
        try:
            if _resume(campaign, public_url):
                resumed.append(campaign.id)
        except Exception:  # one campaign's trouble (a segment that fails) must not stop the others
            db.session.rollback()
            log.exception("could not resume campaign %s", campaign.id)
    return resumed


def _resume(campaign: Campaign, public_url: str) -> bool:
    """Enqueue the remaining recipients of a stalled campaign; whether it did."""
    batch_ids = [f"campaign-{campaign.id}-batch-{number}"
                 for number in range(-(-campaign.recipients // BATCH_SIZE))]
    if pending_jobs(batch_ids):
        return False  # still in progress (or waiting for a retry)
    model = _message_model(campaign)
    handled = select(model.contact_id).where(model.campaign_id == campaign.id,
                                             model.status.in_(HANDLED))
    remaining = list(db.session.scalars(audience_query(campaign, as_of=campaign.started_at)
                                        .where(Contact.id.not_in(handled)).order_by(Contact.id)))
    if not remaining:  # those not handled unsubscribed or were erased meanwhile: done
        _mark_sent(campaign)
        db.session.commit()
        return False
    _enqueue_batches(campaign, remaining, public_url, enqueue_now=True)
    return True


def _enqueue_batches(campaign: Campaign, recipients: list[int], public_url: str, *,
                     enqueue_now: bool) -> None:
    send = enqueue if enqueue_now else partial(enqueue_after_commit, db.session)
    for number, start in enumerate(range(0, len(recipients), BATCH_SIZE)):
        send(f"worker.jobs.messages.send_{campaign.channel}_batch", campaign.id,
             recipients[start:start + BATCH_SIZE], public_url,
             job_id=f"campaign-{campaign.id}-batch-{number}")


def start_campaign(campaign_id: int, public_url: str) -> int:
    """Take a due campaign (once, whichever worker comes first) and enqueue its batches.

    One transaction: if the database fails midway, the campaign is still scheduled and the
    retried job (or the minute sweep) starts it again; the batches are enqueued only once it
    commits."""
    taken = db.session.execute(update(Campaign).where(Campaign.id == campaign_id,
                                                      Campaign.status == "scheduled",
                                                      Campaign.scheduled_at <= utcnow())
                               .values(status="sending", started_at=utcnow())).rowcount
    if not taken:
        db.session.rollback()
        return 0
    campaign = db.session.get(Campaign, campaign_id)
    recipients = list(db.session.scalars(audience_query(campaign).order_by(Contact.id)))
    campaign.recipients = len(recipients)
    if not recipients:
        _mark_sent(campaign)
    _enqueue_batches(campaign, recipients, public_url, enqueue_now=False)
    db.session.commit()
    return len(recipients)


@dataclass
class Message:
    """What the renderer needs of a message that is not a campaign (an automation's step)."""

    account_id: int
    body: str
    subject: str = ""
    tag_links: bool = True
    id: int | None = None  # the campaign, if any: automation messages have none
    cid_message_id: int = 0


class Renderer:
    """Renders a campaign (or a Message) for each recipient, with what is the same for all computed once."""

    def __init__(self, campaign: Campaign | Message, public_url: str, *, links_expire: int | None = None):
        """`links_expire`: the Unix time after which click links stop redirecting (test sends)."""
        self.campaign, self.public_url, self.links_expire = campaign, public_url, links_expire
        account = db.session.get(Account, campaign.account_id)
        site = get_site(campaign.account_id)
        self.website_host = site_host(site.website_url) if site and site.enabled else None
        self.tag_all = account.tag_all_links

    def link(self, url: str, contact: Contact | None, channel: str,
             email_id: int | None = None) -> str | None:
        """The address a link in the message points to: tagged for the contact, through the click redirect."""
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            return None
        destination = url
        if contact is not None and self.campaign.tag_links \
                and should_tag(url, self.website_host, self.tag_all):
            message_id = self.campaign.id or getattr(self.campaign, "cid_message_id", 0)
            destination = tag_url(url, make_cid(self.campaign.account_id, contact.id, message_id, channel))
        click = Click(self.campaign.account_id, self.campaign.id, contact.id if contact else None, channel,
                      destination, email_id, self.links_expire)
        return f"{self.public_url}/c/{click_token(click)}"

    def unsubscribe_url(self, contact: Contact, channel: str) -> str:
        issued = int(utcnow().timestamp())
        token = unsubscribe_token(Unsubscribe(contact.account_id, contact.id, channel, issued))
        return f"{self.public_url}/u/{token}"

    def email(self, contact: Contact, email_id: int | None = None) -> dict:
        body = rewrite_links(self.campaign.body, lambda url: self.link(url, contact, "email", email_id))
        unsubscribe = self.unsubscribe_url(contact, "email")
        # (A test's campaign may not be sent yet: its web version opens once it is.)
        web_url = permanent_url(self.campaign, self.public_url) \
            if self.campaign.id and not self.links_expire else None
        html = render_template("emails/campaign.html", body=body, unsubscribe_url=unsubscribe,
                               web_url=web_url)
        return {"subject": self.campaign.subject, "html_body": html, "text_body": html_to_text(html),
                "headers": f"List-Unsubscribe: <{unsubscribe}>\n"
                           "List-Unsubscribe-Post: List-Unsubscribe=One-Click"}


    def sms(self, contact: Contact) -> str:
        """The text with each link tagged for the contact, then shortened; and a short opt-out link."""
        def short(url: str) -> str:
            target = self.link(url, contact, "sms") or url
            code = sms.make_short_link(account_id=self.campaign.account_id, url=target,
                                       campaign_id=self.campaign.id, contact_id=contact.id).code
            return f"{self.public_url}/s/{code}"

        text = sms.shorten_links(self.campaign.body, short)
        stop = sms.make_short_link(account_id=self.campaign.account_id,
                                   url=self.unsubscribe_url(contact, "sms"), campaign_id=self.campaign.id,
                                   contact_id=contact.id).code
        return f"{text}\nStop: {self.public_url}/s/{stop}"


def permanent_url(campaign: Campaign, public_url: str) -> str:
    return f"{public_url}/m/{permanent_token(campaign.id)}"


def permanent_html(campaign: Campaign) -> str:
    """The public web view: the message as written, links untagged, so readers stay anonymous."""
    return render_template("emails/campaign.html", body=campaign.body, unsubscribe_url=None, web_url=None)


def _from_address(campaign: Campaign) -> str:
    return campaign.from_name


def send_email_batch(campaign_id: int, contact_ids: list[int], public_url: str, *,
                     final_attempt: bool) -> int:
    """Render and deliver one batch; already-delivered recipients are skipped. Returns messages sent now."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    recipients = list(db.session.scalars(select(Contact).where(Contact.id.in_(contact_ids),
                                                               Contact.account_id == campaign.account_id,
                                                               Contact.email_status == SUBSCRIBED)))
    existing = set(db.session.scalars(select(Email.contact_id).where(Email.campaign_id == campaign.id,
                                                                     Email.contact_id.in_(contact_ids))))
    renderer = Renderer(campaign, public_url)
    rows = [{"account_id": campaign.account_id, "campaign_id": campaign.id, "contact_id": contact.id,
             "kind": "campaign", "to_address": contact.email, "reply_to": "", "status": "queued",
             "created_at": utcnow(), **renderer.email(contact)}
            for contact in recipients if contact.id not in existing]
    if rows:
        insert_new(Email, rows, ("campaign_id", "contact_id"))
        db.session.commit()
    pending = list(db.session.scalars(select(Email).where(Email.campaign_id == campaign.id,
                                                          Email.contact_id.in_(contact_ids),
                                                          Email.status.in_(("queued", "retrying")))
                                      .order_by(Email.id)))
    try:
        sent = mail.deliver_many(pending, final_attempt=final_attempt, from_name=_from_address(campaign))
    except Exception:
        if final_attempt:  # the failed ones are handled too: the campaign may be done
            finish_if_done(campaign)
        raise
    finish_if_done(campaign)
    return sent


def send_sms_batch(campaign_id: int, contact_ids: list[int], public_url: str, *, final_attempt: bool) -> int:
    """Render (links tagged, then shortened) and deliver one batch of a campaign's text messages."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    recipients = list(db.session.scalars(select(Contact).where(
        Contact.id.in_(contact_ids), Contact.account_id == campaign.account_id,
        Contact.sms_status == SUBSCRIBED, Contact.phone != "")))
    existing = set(db.session.scalars(select(SmsMessage.contact_id).where(
        SmsMessage.campaign_id == campaign.id, SmsMessage.contact_id.in_(contact_ids))))
    renderer = Renderer(campaign, public_url)
    rows = [{"account_id": campaign.account_id, "campaign_id": campaign.id, "contact_id": contact.id,
             "to_number": contact.phone, "body": renderer.sms(contact), "status": "queued",
             "created_at": utcnow()}
            for contact in recipients if contact.id not in existing]
    if rows:
        insert_new(SmsMessage, rows, ("campaign_id", "contact_id"))
        db.session.commit()
    pending = list(db.session.scalars(select(SmsMessage.id).where(
        SmsMessage.campaign_id == campaign.id, SmsMessage.contact_id.in_(contact_ids),
        SmsMessage.status.in_(("queued", "retrying"))).order_by(SmsMessage.id)))
    # One refused number does not hold up the others; the batch is retried for those that failed.
    failure = None
    for sms_id in pending:
        try:
            sms.deliver_sms(sms_id, final_attempt=final_attempt)
        except Exception as error:  # noqa: BLE001 (one refused number must not hold up the batch)
            db.session.rollback()
            failure = failure or error
    finish_if_done(campaign)
    if failure is not None:
        raise failure
    return len(pending)


def _message_model(campaign: Campaign):
    """The table of a campaign's messages: emails or text messages."""
    return Email if campaign.channel == "email" else SmsMessage


def _mark_sent(campaign: Campaign) -> None:
    campaign.status, campaign.finished_at = "sent", utcnow()


def finish_if_done(campaign: Campaign) -> None:
    model = _message_model(campaign)
    handled = db.session.scalar(select(func.count()).select_from(model).where(
        model.campaign_id == campaign.id, model.status.in_(HANDLED)))
    if handled >= campaign.recipients and campaign.status == "sending":
        _mark_sent(campaign)
        db.session.commit()


def send_test(campaign: Campaign, user: User, public_url: str) -> Email:
    """Send the campaign to the signed-in user, as their own contact, marked as a test."""
    if campaign.channel != "email":
        raise CampaignError("Test sends are for emails.", "name")
    if not campaign.body.strip():
        raise CampaignError("Write the message before sending a test.", "body")
    contact = people.contact_for_user(campaign.account_id, user.email)
    renderer = Renderer(campaign, public_url, links_expire=int(time.time()) + TEST_LINK_SECONDS)
    rendered = renderer.email(contact)
    return mail.queue_email(account_id=campaign.account_id, sent_by_id=user.id, kind="campaign_test",
                            to_address=user.email, subject=f"[Test] {rendered['subject']}",
                            text_body=rendered["text_body"], html_body=rendered["html_body"])


def delivery_counts(campaign: Campaign) -> dict[str, int]:
    model = _message_model(campaign)
    rows = db.session.execute(select(model.status, func.count()).where(model.campaign_id == campaign.id)
                              .group_by(model.status)).all()
    return {status: count for status, count in rows}


def failure_reasons(campaign: Campaign, limit: int = 5) -> list[tuple[str, int]]:
    """Why messages failed for good, most frequent first: [(the last error, how many)]."""
    model = _message_model(campaign)
    return [tuple(row) for row in db.session.execute(
        select(model.error, func.count()).where(model.campaign_id == campaign.id, model.status == "failed")
        .group_by(model.error).order_by(func.count().desc(), model.error).limit(limit))]


def unsubscribe(account_id: int, contact_id: int, channel: str,
                issued_at: int | None = None) -> Contact | None:
    """Unsubscribe the contact an unsubscribe link was made for; None if they are gone. A link
    issued before the contact existed was made for an erased contact who had the same id."""
    contact = people.get_contact(account_id, contact_id)
    if contact is None or (issued_at is not None and not issued_to_contact(
            datetime.fromtimestamp(issued_at, timezone.utc), contact.created_at)):
        return None
    people.set_subscription(contact, channel, False)
    return contact


def click_counts(campaign: Campaign) -> dict[str, int]:
    """Clicks and distinct clickers of a campaign."""
    from app.models import LinkClick

    row = db.session.execute(select(func.count(LinkClick.id), func.count(func.distinct(LinkClick.contact_id)))
                             .where(LinkClick.campaign_id == campaign.id)).one()
    return {"clicks": row[0], "clickers": row[1]}
