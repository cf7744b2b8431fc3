"""The demo of `make run`: an account with a month of history, and a small website with the embed
code, served on a second port (another origin), so a newcomer can click a tagged link and watch
page views arrive. On first run the demo account gets about 40 contacts on two lists (people), 30
days of page views stored through the event pipeline, as the worker stores beacons (history), a
segment, an active automation, a sent campaign with clicks and a ready Welcome draft (content, its
jobs run here by jobs); the fixed data is in data, the website in website. Everything is made
through the domain code, with a seeded random, so every demo looks the same; `flask create-demo
--reset` deletes the account and makes it again. This module is the entry point: the account.
"""
from __future__ import annotations

import logging
import random

from flask import current_app
from sqlalchemy import delete, select

from app import accounts
from app.automations import triggers
from app.contacts.people import add_contact, find_by_email
from app.demo.content import (ensure_automation, ensure_segment, ensure_welcome_campaign, send_campaign,
                              spring_offer)
from app.demo.data import ADA, AUTOMATION_NAME, CAMPAIGN_NAME, DEMO_CONTACTS, SEGMENT_NAME
from app.demo.history import store_history
from app.demo.people import ensure_contacts
from app.demo.website import DemoWebsite, render_page
from app.devserver import DEFAULT_DEMO_SITE_PORT
from app.extensions import db
from app.messaging.links import tag_url
from app.models import Account, Automation, Campaign, User
from app.models.messaging import CampaignStatus
from app.public_url import public_url as instance_public_url
from app.tracking import setup
from app.tracking.cid import make_cid

__all__ = ["ADA", "AUTOMATION_NAME", "CAMPAIGN_NAME", "DEFAULT_WEBSITE", "DEMO_EMAIL", "DEMO_PASSWORD",
           "SEGMENT_NAME", "DemoWebsite", "demo_link", "ensure_demo_account", "render_page",
           "reset_demo_account"]

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "footfall-demo"
# The demo website of `make run` when its port is free; `flask create-demo` tracks it too.
DEFAULT_WEBSITE = f"http://127.0.0.1:{DEFAULT_DEMO_SITE_PORT}"
SEED = 20240401


def ensure_demo_account(website_url: str | None = None, public_url: str | None = None):
    """The demo user, its tracking of `website_url` (default: the website it tracks already, else
    DEFAULT_WEBSITE) and, on first run, its contacts, history, segment, automation and sent
    campaign. Idempotent: a later run only points the tracking at `website_url` (the demo website's
    port may change) and refreshes the Welcome draft's links. `public_url`: where the links of the
    campaign's emails lead (default: app.public_url's). Needs Redis (the campaign goes through the queues)."""
    user = accounts.find_user(DEMO_EMAIL) or accounts.register(DEMO_EMAIL, DEMO_PASSWORD, "Demo Shop")
    db.session.flush()
    site = setup.get_site(user.account_id)
    website_url = website_url or (site.website_url if site else DEFAULT_WEBSITE)
    if site is None:
        site = setup.activate(user, website_url, terms_accepted=True)
        setup.advance_wizard(site, to_step=None)
    else:
        setup.change_website(site, user, website_url)
    db.session.commit()
    user_id = user.id
    if not is_complete(user.account_id):
        create_demo_data(user, website_url, public_url or instance_public_url())
    user = db.session.get(User, user_id)
    ada = DEMO_CONTACTS[0]
    if find_by_email(user.account_id, ADA) is None:  # the printed link is hers
        add_contact(user.account_id, *ada[:4])
    ensure_welcome_campaign(user, website_url)
    db.session.commit()
    return user


def reset_demo_account(website_url: str | None = None, public_url: str | None = None):
    """Delete the demo account (the user of DEMO_EMAIL) and everything in it, then make it again,
    tracking the same website unless `website_url` says otherwise."""
    user = accounts.find_user(DEMO_EMAIL)
    if user is not None:
        account_id = user.account_id
        site = setup.get_site(account_id)
        website_url = website_url or (site.website_url if site else None)
        # Every table refers to its account with ON DELETE CASCADE (SQLite enforces foreign keys on
        # the app's connections): one statement deletes contacts, page views, messages and the rest.
        db.session.execute(delete(Account).where(Account.id == account_id))
        db.session.commit()
        db.session.expunge_all()
        triggers.forget(account_id)
    return ensure_demo_account(website_url, public_url)


def is_complete(account_id: int) -> bool:
    """Whether the demo was made: its campaign, the last thing made, is sent."""
    status = db.session.scalar(select(Campaign.status).where(Campaign.account_id == account_id,
                                                             Campaign.name == CAMPAIGN_NAME))
    return status == CampaignStatus.SENT


def create_demo_data(user, website_url: str, public_url: str) -> None:
    """Each part is made only if missing, so an interrupted run is completed by the next one; each
    part draws from its own random sequence, so a part made again draws the same numbers."""
    account_id, user_id = user.account_id, user.id
    people = ensure_contacts(account_id, random.Random(SEED))
    # Before the automation, which the history must not start (it is made next, once it is stored).
    if db.session.scalar(select(Automation.id).where(Automation.account_id == account_id,
                                                     Automation.name == AUTOMATION_NAME)) is None:
        store_history(account_id, people, website_url, random.Random(SEED + 1))
    ensure_segment(account_id)
    ensure_welcome_campaign(db.session.get(User, user_id), website_url)
    db.session.commit()
    ensure_automation(db.session.get(User, user_id), website_url)
    if current_app.config["MAIL_URL"]:
        spring_offer(db.session.get(User, user_id), website_url)
        db.session.commit()
        # The demo's contacts are made up: their addresses must not reach a real mail server.
        log.warning("The demo campaign %r is not sent: MAIL_URL is set, and the demo contacts' addresses "
                    "are made up. Create the demo without MAIL_URL to see a sent campaign.", CAMPAIGN_NAME)
        return
    send_campaign(user_id, website_url, public_url, random.Random(SEED + 2))


def demo_link(user, website_url: str, email: str = ADA) -> str:
    contact = find_by_email(user.account_id, email)
    return tag_url(website_url + "/pricing?utm_source=demo",
                   make_cid(user.account_id, contact.id, channel="test"))
