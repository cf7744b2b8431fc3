"""Sending a campaign: start it, send it in batches, resume it if its jobs were lost, finish it.

`start_campaign` (a job) takes a due campaign once, resolves its audience in SQL and enqueues one
job per batch of recipients; `send_email_batch` and `send_sms_batch` render each recipient's
message (app/messaging/rendering.py) and deliver the batch. A message row per campaign and
contact (unique) means a retried batch never sends twice; the campaign is sent once every
recipient's message is handled (delivered, or failed for good).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, select, update

from app.extensions import db
from app.messaging import mail, personalise, sms
from app.messaging.campaigns import CampaignError, audience_query, check_ready, message_model
from app.messaging.rendering import Message, Renderer
from app.models import Campaign, Contact, Email, SmsMessage
from app.models.contacts import Subscription
from app.models.messaging import HANDLED, UNDELIVERED, CampaignStatus, DeliveryStatus
from app.models.types import insert_new, utcnow
from app.queues import enqueue, enqueue_after_commit, pending_jobs

BATCH_SIZE = 100
# A campaign sending for this long with no batch job left has lost its jobs (see resume_stalled_campaigns).
STALLED_AFTER = timedelta(minutes=1)
log = logging.getLogger(__name__)


def send_now(campaign: Campaign, public_url: str) -> None:
    check_ready(campaign)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise CampaignError("This campaign is already sending or sent.", "name")
    campaign.status, campaign.scheduled_at = CampaignStatus.SCHEDULED, utcnow()
    db.session.flush()
    enqueue_start(campaign, public_url)


# A campaign's start job, by channel: each is retried as its channel's deliveries are (app/queues.py).
START_JOBS = {"email": "worker.jobs.messages.start_campaign", "sms": "worker.jobs.sms.start_campaign"}


def enqueue_start(campaign: Campaign, public_url: str) -> None:
    enqueue_after_commit(db.session, START_JOBS[campaign.channel], campaign.id, public_url,
                         job_id=f"campaign-{campaign.id}-start")


def start_due_campaigns(public_url: str, now: datetime | None = None) -> list[int]:
    """Enqueue the start of every scheduled campaign now due (the periodic sweep)."""
    due = db.session.execute(select(Campaign.id, Campaign.channel).where(
        Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at <= (now or utcnow()))).all()
    for campaign_id, channel in due:
        enqueue(START_JOBS[channel], campaign_id, public_url, job_id=f"campaign-{campaign_id}-start")
    return [campaign_id for campaign_id, _ in due]


def resume_stalled_campaigns(public_url: str, now: datetime | None = None) -> list[int]:
    """Enqueue again the batches of campaigns still sending a while after they started with no
    batch job left to run (the jobs were lost: Redis lost them, or went away as they were being
    enqueued). A batch skips the recipients already handled, so nobody gets a message twice."""
    stalled = list(db.session.scalars(select(Campaign).where(
        Campaign.status == CampaignStatus.SENDING, Campaign.started_at <= (now or utcnow()) - STALLED_AFTER)))
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
    model = message_model(campaign)
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
                                                      Campaign.status == CampaignStatus.SCHEDULED,
                                                      Campaign.scheduled_at <= utcnow())
                               .values(status=CampaignStatus.SENDING, started_at=utcnow())).rowcount
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


def send_email_batch(campaign_id: int, contact_ids: list[int], public_url: str, *,
                     final_attempt: bool) -> int:
    """Render and deliver one batch; already-delivered recipients are skipped. Returns messages sent now."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    recipients = list(db.session.scalars(select(Contact).where(
        Contact.id.in_(contact_ids), Contact.account_id == campaign.account_id,
        Contact.email_status == Subscription.SUBSCRIBED)))
    existing = set(db.session.scalars(select(Email.contact_id).where(Email.campaign_id == campaign.id,
                                                                     Email.contact_id.in_(contact_ids))))
    renderer = Renderer(Message.of_campaign(campaign), public_url)
    rows = [{"account_id": campaign.account_id, "campaign_id": campaign.id, "contact_id": contact.id,
             "kind": "campaign", "to_address": contact.email, "reply_to": "",
             "status": DeliveryStatus.QUEUED,
             "created_at": utcnow(), **renderer.email(contact)}
            for contact in recipients if contact.id not in existing]
    if rows:
        insert_new(Email, rows, ("campaign_id", "contact_id"))
        db.session.commit()
    pending = list(db.session.scalars(select(Email).where(Email.campaign_id == campaign.id,
                                                          Email.contact_id.in_(contact_ids),
                                                          Email.status.in_(UNDELIVERED))
                                      .order_by(Email.id)))
    try:
        # Each email has its own From name, personalised; one that came out empty gets MAIL_FROM's
        # name, never the template. (The campaign's is for emails stored before they had one.)
        fallback = "" if personalise.has_fields(campaign.from_name) else campaign.from_name
        sent = mail.deliver_many(pending, final_attempt=final_attempt, from_name=fallback)
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
        Contact.sms_status == Subscription.SUBSCRIBED, Contact.phone != "")))
    existing = set(db.session.scalars(select(SmsMessage.contact_id).where(
        SmsMessage.campaign_id == campaign.id, SmsMessage.contact_id.in_(contact_ids))))
    renderer = Renderer(Message.of_campaign(campaign), public_url)
    rows = [{"account_id": campaign.account_id, "campaign_id": campaign.id, "contact_id": contact.id,
             "to_number": contact.phone, "body": renderer.sms(contact),
             "status": DeliveryStatus.QUEUED,
             "created_at": utcnow()}
            for contact in recipients if contact.id not in existing]
    if rows:
        insert_new(SmsMessage, rows, ("campaign_id", "contact_id"))
        db.session.commit()
    pending = list(db.session.scalars(select(SmsMessage.id).where(
        SmsMessage.campaign_id == campaign.id, SmsMessage.contact_id.in_(contact_ids),
        SmsMessage.status.in_(UNDELIVERED)).order_by(SmsMessage.id)))
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


def _mark_sent(campaign: Campaign) -> None:
    campaign.status, campaign.finished_at = CampaignStatus.SENT, utcnow()


def finish_if_done(campaign: Campaign) -> None:
    model = message_model(campaign)
    handled = db.session.scalar(select(func.count()).select_from(model).where(
        model.campaign_id == campaign.id, model.status.in_(HANDLED)))
    if handled >= campaign.recipients and campaign.status == CampaignStatus.SENDING:
        _mark_sent(campaign)
        db.session.commit()
