"""The demo account's marketing: the "Viewed pricing twice in 14 days" segment, the active
"Pricing follow-up" automation, the "Spring offer" campaign (sent through the campaign jobs, then
clicked by about a third of its recipients) and the ready "Welcome" draft.
"""
from __future__ import annotations

import html
import random

from sqlalchemy import select

from app.automations import engine, triggers
from app.automations import service as automations
from app.demo.data import (ADA, AUTOMATION_NAME, CAMPAIGN_NAME, CUSTOMERS, FOLLOW_UP_BODY, NEWSLETTER,
                           SEGMENT_NAME, SPRING_BODY, SPRING_LINKS, WELCOME_BODY)
from app.demo.history import Visit, page_view_records, random_agent, store
from app.demo.jobs import run_jobs, run_jobs_until
from app.demo.people import demo_list
from app.extensions import db
from app.messaging import campaigns, sending
from app.messaging.clicks import click_record, store_click_records
from app.messaging.links import tag_url
from app.models import Automation, Campaign, Contact, Email, Segment, User
from app.models.automations import AutomationStatus
from app.models.messaging import DELIVERED, CampaignStatus
from app.models.types import utcnow
from app.segments import membership
from app.segments import service as segments
from app.tracking import setup
from app.tracking.cid import make_cid


def ensure_segment(account_id: int):
    """"Viewed pricing twice in 14 days", evaluated now."""
    segment = db.session.scalar(select(Segment).where(Segment.account_id == account_id,
                                                      Segment.name == SEGMENT_NAME))
    if segment is None:
        rule = {"type": "visit", "op": "contains", "value": "/pricing", "count_op": "at_least", "count": 2,
                "window": "last_days", "days": 14, "negate": False}
        segment = segments.save(account_id, None, SEGMENT_NAME,
                                {"join": "and", "groups": [{"match": "all", "rules": [rule]}]})
        db.session.commit()
    membership.evaluate(segment)
    return segment


def ensure_automation(user, website_url: str):
    """Active: a view of the pricing page → wait a day → the "Questions about pricing?" email."""
    automation = db.session.scalar(select(Automation).where(Automation.account_id == user.account_id,
                                                            Automation.name == AUTOMATION_NAME))
    if automation is None:
        automation = automations.create(user)
        automations.save_settings(automation, {"name": AUTOMATION_NAME, "reentry": "once", "trigger": {
            "type": "page_view", "op": "contains", "value": "/pricing", "count": 1}})
        wait = automations.add_step(automation, "delay")
        automations.edit_step(automation, wait["id"], {"amount": "1", "unit": "days"})
        email = automations.add_step(automation, "email", after=wait["id"])
        automations.edit_step(automation, email["id"],
                              {"subject": "Questions about pricing?",
                               "body": FOLLOW_UP_BODY.replace("WEBSITE", website_url)})
    if automation.status != AutomationStatus.ACTIVE:
        problems = engine.activate(automation)
        if problems:
            raise RuntimeError(f"the demo automation cannot be activated: {'; '.join(problems)}")
    db.session.commit()
    triggers.forget(user.account_id)
    return automation


def spring_offer(user, website_url: str) -> Campaign:
    """The "Spring offer" email to the Newsletter list (a draft until it is sent)."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.account_id == user.account_id,
                                                        Campaign.name == CAMPAIGN_NAME))
    if campaign is None:
        campaign = campaigns.create_campaign(user, "email")
        body = SPRING_BODY.format(**{name: html.escape(path) for name, path in SPRING_LINKS.items()})
        campaigns.update_campaign(campaign, name=CAMPAIGN_NAME,
                                  subject="Spring offer: 20% off Pro for a year",
                                  from_name="Demo Shop", body=body.replace("WEBSITE", website_url),
                                  list_ids=[demo_list(user.account_id, NEWSLETTER).id])
    return campaign


def send_campaign(user_id: int, website_url: str, public_url: str, rng: random.Random) -> None:
    """"Spring offer", sent by the campaign jobs (run here), then clicked by about a third of its
    recipients, who land on the website (and the pricing page starts the automation for them)."""
    user = db.session.get(User, user_id)
    account_id = user.account_id
    campaign = spring_offer(user, website_url)
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        sending.send_now(campaign, public_url)
    db.session.commit()
    campaign_id = campaign.id
    run_jobs_until(lambda: db.session.get(Campaign, campaign_id).status == CampaignStatus.SENT,
                   "the demo campaign was not sent")
    if campaigns.click_counts(db.session.get(Campaign, campaign_id))["clicks"] == 0:
        record_clicks(account_id, campaign_id, website_url, rng)
    run_jobs()  # the segment updates for the pages the clicks led to


def record_clicks(account_id: int, campaign_id: int, website_url: str, rng: random.Random) -> None:
    """Clicks on the campaign's links, recorded as the click redirect records them (then stored as
    the consumer stores them), and the page views of the pages they land on, now."""
    emails = db.session.execute(select(Email.id, Email.contact_id, Contact.email)
                                .join(Contact, Contact.id == Email.contact_id)
                                .where(Email.campaign_id == campaign_id, Email.status.in_(DELIVERED))
                                .order_by(Email.id)).all()
    candidates = [row for row in emails if row.email != ADA]  # Ada's click is the newcomer's to make
    clickers = rng.sample(candidates, k=min(len(candidates), max(1, round(len(emails) * 0.35))))
    clicks, visits, now = [], [], utcnow()
    for email_id, contact_id, _ in clickers:
        links = ["pricing"] if rng.random() < 0.75 else ["blog"]
        if rng.random() < 0.2:
            links = ["blog", "pricing"]
        cid = make_cid(account_id, contact_id, campaign_id, "email")
        visitor, agent = f"{rng.getrandbits(64):016x}", random_agent(rng)
        for link in links:
            # Where the click redirect sends them: the link tagged with their cid, as in the email.
            destination = tag_url(website_url + SPRING_LINKS[link], cid)
            clicks.append(click_record(account_id=account_id, campaign_id=campaign_id, contact_id=contact_id,
                                       channel="email", url=destination, email_id=email_id))
            # The tracker sends the address without its cid, and the cid on its own.
            landing, _, utm = SPRING_LINKS[link].partition("?")
            visits.append(Visit(now, visitor, agent, [landing], utm, "", cid))
    store_click_records(clicks)
    site = setup.get_site(account_id)
    store(page_view_records(visits, site, website_url, f"demo-{account_id}-click", rng, now))


def ensure_welcome_campaign(user, website_url: str) -> None:
    """A ready "Welcome" email to the Customers list, linking to the demo website."""
    customers = demo_list(user.account_id, CUSTOMERS)
    welcome = db.session.scalar(select(Campaign).where(Campaign.account_id == user.account_id,
                                                       Campaign.name == "Welcome"))
    if welcome is None:
        welcome = Campaign(account_id=user.account_id, created_by_id=user.id, channel="email", name="Welcome",
                           subject="Welcome to the Demo Shop, {{ first_name | default: \"friend\" }}",
                           from_name="Demo Shop", lists=[customers],
                           status=CampaignStatus.DRAFT)
        db.session.add(welcome)
    if welcome.status == CampaignStatus.DRAFT:
        welcome.body = WELCOME_BODY.replace("WEBSITE", website_url)
