"""The demo of `make run`: an account with a month of history, and a small website with the embed
code, served on a second port (another origin), so a newcomer can click a tagged link and watch
page views arrive.

On first run the demo account gets about 40 contacts on two lists, 30 days of page views (stored
through the event pipeline, as the worker stores beacons), a segment, an active automation, a sent
campaign with clicks and a ready Welcome draft. Everything is made through the domain code, with a
seeded random, so every demo looks the same; `flask create-demo --reset` deletes the account and
makes it again.
"""
from __future__ import annotations

import html
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from flask import current_app
from rq import SimpleWorker
from sqlalchemy import delete, select

from app import accounts
from app.automations import engine, triggers
from app.automations import service as automations
from app.contacts.lists import account_lists, add_to_list, create_list
from app.contacts.people import add_contact, find_by_email, set_subscription
from app.devserver import DEFAULT_DEMO_SITE_PORT
from app.extensions import db
from app.messaging import campaigns
from app.messaging.clicks import click_record, store_click_records
from app.messaging.links import tag_url
from app.models import Account, Automation, Campaign, Contact, Email, Segment, User
from app.models.types import utcnow
from app.public_url import public_url as instance_public_url
from app.queues import DEFAULT, MESSAGES, get_redis
from app.segments import membership
from app.segments import service as segments
from app.tracking import setup
from app.tracking.cid import make_cid
from app.tracking.events import store_records
from app.tracking.ingest import SiteInfo, event_record, parse_beacon
from app.tracking.urls import site_host

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "footfall-demo"
# The demo website of `make run` when its port is free; `flask create-demo` tracks it too.
DEFAULT_WEBSITE = f"http://127.0.0.1:{DEFAULT_DEMO_SITE_PORT}"
SEED = 20240401
HISTORY_DAYS = 30
BATCH = 500

CUSTOMERS, NEWSLETTER = "Customers", "Newsletter"
SEGMENT_NAME = "Viewed pricing twice in 14 days"
AUTOMATION_NAME = "Pricing follow-up"
CAMPAIGN_NAME = "Spring offer"

# (email, first name, last name, phone, lists: C = Customers, N = Newsletter). Ada comes first: the
# printed link identifies her.
DEMO_CONTACTS = [
    ("ada@example.com", "Ada", "Lovelace", "+14155550101", "CN"),
    ("grace@example.com", "Grace", "Hopper", "", "C"),
    ("liam.carter@example.com", "Liam", "Carter", "", "CN"),
    ("sofia.martinez@example.org", "Sofia", "Martinez", "+12025550143", "N"),
    ("noah.kim@example.net", "Noah", "Kim", "", "CN"),
    ("olivia.brown@example.com", "Olivia", "Brown", "", "N"),
    ("lucas.meyer@example.org", "Lucas", "Meyer", "", "C"),
    ("mia.rossi@example.com", "Mia", "Rossi", "", "CN"),
    ("ethan.nguyen@example.net", "Ethan", "Nguyen", "+13125550178", "CN"),
    ("ava.johnson@example.com", "Ava", "Johnson", "", "N"),
    ("leo.dubois@example.org", "Léo", "Dubois", "", "C"),
    ("chloe.wilson@example.com", "Chloe", "Wilson", "", "CN"),
    ("mateo.garcia@example.net", "Mateo", "García", "", "N"),
    ("zoe.taylor@example.com", "Zoe", "Taylor", "+16175550112", "CN"),
    ("jonas.berg@example.org", "Jonas", "Berg", "", "C"),
    ("amelia.clark@example.com", "Amelia", "Clark", "", "N"),
    ("hugo.lambert@example.net", "Hugo", "Lambert", "", "CN"),
    ("isla.murphy@example.com", "Isla", "Murphy", "", "N"),
    ("omar.haddad@example.org", "Omar", "Haddad", "", "C"),
    ("nora.jensen@example.com", "Nora", "Jensen", "", "CN"),
    ("felix.wagner@example.net", "Felix", "Wagner", "", "N"),
    ("emily.davis@example.com", "Emily", "Davis", "+15035550190", "C"),
    ("samuel.okafor@example.org", "Samuel", "Okafor", "", "CN"),
    ("hannah.lee@example.com", "Hannah", "Lee", "", "N"),
    ("arthur.moreau@example.net", "Arthur", "Moreau", "", "C"),
    ("lily.evans@example.com", "Lily", "Evans", "", "CN"),
    ("daniel.cohen@example.org", "Daniel", "Cohen", "", "N"),
    ("maya.patel@example.com", "Maya", "Patel", "", "CN"),
    ("oscar.lindqvist@example.net", "Oscar", "Lindqvist", "", "C"),
    ("ella.white@example.com", "Ella", "White", "", "N"),
    ("ruben.silva@example.org", "Rubén", "Silva", "", "CN"),
    ("freya.walsh@example.com", "Freya", "Walsh", "", "N"),
    ("victor.petit@example.net", "Victor", "Petit", "", "C"),
    ("julia.novak@example.com", "Julia", "Novak", "+17205550134", "CN"),
    ("adam.fischer@example.org", "Adam", "Fischer", "", "N"),
    ("sara.ali@example.com", "Sara", "Ali", "", "C"),
    ("theo.martin@example.net", "Théo", "Martin", "", "N"),
    ("alice.dupont@example.com", "Alice", "Dupont", "", "CN"),
    ("ben.harris@example.org", "Ben", "Harris", "", "N"),
    ("lena.vogel@example.com", "Lena", "Vogel", "", "C"),
]
ADA = DEMO_CONTACTS[0][0]
UNSUBSCRIBED_FROM_EMAIL = {"felix.wagner@example.net", "adam.fischer@example.org"}
# Never seen on the website; and those who viewed the pricing page at least twice in the last two weeks.
NEVER_VISITED = {"leo.dubois@example.org", "jonas.berg@example.org", "omar.haddad@example.org",
                 "arthur.moreau@example.net", "oscar.lindqvist@example.net", "victor.petit@example.net",
                 "sara.ali@example.com", "ben.harris@example.org", "lena.vogel@example.com",
                 "freya.walsh@example.com"}
PRICING_LEADS = {"liam.carter@example.com", "noah.kim@example.net", "mia.rossi@example.com",
                 "zoe.taylor@example.com", "hugo.lambert@example.net", "samuel.okafor@example.org",
                 "maya.patel@example.com"}
# Ada's month, by hand: one view of the pricing page in the last 14 days, so the printed link (to
# /pricing) brings her into the segment and starts the automation for her.
ADA_VISITS = [(24, 10, "", "https://www.google.com/", ["/", "/blog"]),
              (17, 19, "utm_source=newsletter&utm_medium=email&utm_campaign=weekly", "", ["/blog", "/"]),
              (9, 12, "utm_source=newsletter&utm_medium=email&utm_campaign=weekly", "", ["/pricing", "/app"]),
              (3, 8, "", "", ["/app", "/app/inbox", "/app/reports"])]

AGENTS = {
    "desktop": ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Safari/537.36",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Version/17.4 Safari/605.1.15",
                "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"],
    "mobile": ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
               "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/124.0.0.0 Mobile Safari/537.36"],
    "tablet": ["Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Version/17.4 Mobile/15E148 Safari/604.1",
               "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/124.0.0.0 Safari/537.36"],
}
DEVICE_WEIGHTS = {"desktop": 55, "mobile": 35, "tablet": 10}
# Where visits come from: (weight, UTM parameters of the landing page, referrer).
SOURCES = [(35, "", ""), (25, "", "https://www.google.com/"),
           (10, "utm_source=google&utm_medium=cpc&utm_campaign=spring-sale", "https://www.google.com/"),
           (10, "utm_source=newsletter&utm_medium=email&utm_campaign=weekly", ""),
           (8, "utm_source=twitter&utm_medium=social", "https://t.co/"),
           (6, "utm_source=linkedin&utm_medium=social", "https://www.linkedin.com/"),
           (6, "", "https://blog.partner.example/best-small-shops")]
LANDING = {"/": 45, "/blog": 25, "/pricing": 20, "/app": 10}
# The page after each page (None: the visit ends).
NEXT = {"/": {"/pricing": 35, "/blog": 30, "/app": 15, None: 20},
        "/blog": {"/": 30, "/pricing": 20, None: 50},
        "/pricing": {"/app": 30, "/": 10, None: 60},
        "/app": {"/app/inbox": 40, "/app/reports": 20, "/app/settings": 15, None: 25},
        "app page": {"/app/inbox": 15, "/app/reports": 15, "/app/settings": 10, None: 60}}
# Visits by UTC hour, by weekday (Monday first), and the day the blog post was shared (days ago).
HOURS = [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 7, 7, 7, 6, 5, 5, 5, 4, 3, 2, 1]
WEEKDAYS = [1.15, 1.2, 1.1, 1.05, 0.9, 0.55, 0.5]
ANONYMOUS_VISITS_PER_DAY = 22
SHARED_DAYS_AGO, SHARED_VISITS = 9, 30

SPRING_LINKS = {"pricing": "/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring-offer",
                "blog": "/blog?utm_source=newsletter&utm_medium=email&utm_campaign=spring-offer"}
SPRING_BODY = """<h1>Spring offer: 20% off Pro</h1>
<p>Until the end of the month, the Pro plan is 20% off for a whole year.</p>
<p><a href="WEBSITE{pricing}">See the prices</a> or read <a href="WEBSITE{blog}">what is new on the blog</a>.</p>
<p>The Demo Shop team</p>"""  # noqa: E501 (the email's HTML, line for line as it is sent)
FOLLOW_UP_BODY = """<p>Hello,</p>
<p>You had a look at our prices: is anything unclear? Reply to this email and we will help you
choose, or <a href="WEBSITE/pricing">compare the plans again</a>.</p>
<p>The Demo Shop team</p>"""

PAGES = {
    "/": ("Demo Shop", "<p>Welcome to the demo shop. Browse around: every page you view is recorded.</p>"),
    "/pricing": ("Pricing · Demo Shop", "<p>Basic: 9 € a month. Pro: 29 € a month.</p>"),
    "/blog": ("Blog · Demo Shop", "<p>Five ways to grow your newsletter.</p>"),
    "/app": ("App · Demo Shop", "<p>A single-page app: these buttons change the address with pushState.</p>"
             '<button type="button" data-go="/app/inbox">Inbox</button> '
             '<button type="button" data-go="/app/settings">Settings</button> '
             '<button type="button" data-go="/app/reports">Reports</button>'
             "<script>document.addEventListener('click', function (e) {"
             " var to = e.target.getAttribute('data-go');"
             " if (to) history.pushState({}, '', to); });</script>"),
}


# ---- the account -------------------------------------------------------------------------------
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
    return db.session.scalar(select(Campaign.status).where(Campaign.account_id == account_id,
                                                           Campaign.name == CAMPAIGN_NAME)) == "sent"


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


def demo_list(account_id: int, name: str):
    """The account's list of that name, made if missing."""
    found = [item for item in account_lists(account_id) if item.name == name]
    return found[0] if found else create_list(account_id, name)


def ensure_contacts(account_id: int, rng: random.Random) -> dict[str, int]:
    """The demo contacts on their lists, added some weeks to months ago; {email: contact id}."""
    lists = {code: demo_list(account_id, name) for code, name in (("C", CUSTOMERS), ("N", NEWSLETTER))}
    now, people = utcnow(), {}
    for email, first, last, phone, on in DEMO_CONTACTS:
        contact = find_by_email(account_id, email)
        if contact is None:
            contact = add_contact(account_id, email, first, last, phone)
            # Customers for a while: they were seen on the website before this month's history.
            contact.created_at = now - timedelta(days=rng.randint(HISTORY_DAYS + 5, 240),
                                                 hours=rng.randint(0, 23))
            if email in UNSUBSCRIBED_FROM_EMAIL:
                set_subscription(contact, "email", False)
        for code in on:
            add_to_list(contact, list_id=lists[code].id)
        people[email] = contact.id
    db.session.commit()
    return people


# ---- a month of page views ---------------------------------------------------------------------
@dataclass
class _Visit:
    start: datetime
    visitor: str
    agent: str
    pages: list[str]
    utm: str = ""
    referrer: str = ""
    cid: str = ""


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _agent(rng: random.Random) -> str:
    return rng.choice(AGENTS[_pick(rng, DEVICE_WEIGHTS)])


def _source(rng: random.Random) -> tuple[str, str]:
    _, utm, referrer = rng.choices(SOURCES, weights=[weight for weight, _, _ in SOURCES])[0]
    return utm, referrer


def _path_from(rng: random.Random, landing: str) -> list[str]:
    pages = [landing]
    while len(pages) < 6:
        following = _pick(rng, NEXT["app page" if pages[-1].startswith("/app/") else pages[-1]])
        if following is None:
            break
        pages.append(following)
    return pages


def _moment(rng: random.Random, now: datetime, days_ago: int, hour: int | None = None) -> datetime:
    day = (now - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)
    hour = rng.choices(range(24), weights=HOURS)[0] if hour is None else hour
    return day + timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))


def history(people: dict[str, int], account_id: int, now: datetime, rng: random.Random) -> list[_Visit]:
    """The visits of the last HISTORY_DAYS days: anonymous ones shaped by weekday and hour, growing
    over the month, with a peak the day a blog post was shared; and the contacts' own."""
    visits = []
    for days_ago in range(HISTORY_DAYS):
        weekday = (now - timedelta(days=days_ago)).weekday()
        growth = 0.75 + 0.5 * (HISTORY_DAYS - 1 - days_ago) / (HISTORY_DAYS - 1)
        count = round(ANONYMOUS_VISITS_PER_DAY * WEEKDAYS[weekday] * growth * rng.uniform(0.85, 1.15))
        for _ in range(count):
            utm, referrer = _source(rng)
            visits.append(_Visit(_moment(rng, now, days_ago), f"{rng.getrandbits(64):016x}", _agent(rng),
                                 _path_from(rng, _pick(rng, LANDING)), utm, referrer))
        if days_ago == SHARED_DAYS_AGO:
            for _ in range(SHARED_VISITS):
                visits.append(_Visit(_moment(rng, now, days_ago, hour=rng.choice([15, 16, 17, 18, 19])),
                                     f"{rng.getrandbits(64):016x}", _agent(rng), _path_from(rng, "/blog"),
                                     "utm_source=twitter&utm_medium=social&utm_campaign=five-ways",
                                     "https://t.co/"))
    # Anonymous visitors who come back: a few visits reuse an earlier visit's visitor id and device.
    for visit in rng.sample(visits, len(visits) // 5):
        earlier = rng.choice(visits)
        visit.visitor, visit.agent = earlier.visitor, earlier.agent

    for email, contact_id in people.items():
        if email in NEVER_VISITED:
            continue
        cid = make_cid(account_id, contact_id)
        visitor, agent = f"{rng.getrandbits(64):016x}", _agent(rng)
        if email == ADA:
            visits += [_Visit(_moment(rng, now, days_ago, hour), visitor, AGENTS["desktop"][1], pages, utm,
                              referrer, cid) for days_ago, hour, utm, referrer, pages in ADA_VISITS]
            continue
        customer = "C" in next(on for address, *_, on in DEMO_CONTACTS if address == email)
        landing = {"/": 30, "/blog": 30, "/pricing": 10, "/app": 60 if customer else 10}
        for _ in range(rng.randint(1, 6)):
            utm, referrer = rng.choice([("", ""), ("", ""), (SOURCES[3][1], ""), _source(rng)])
            visits.append(_Visit(_moment(rng, now, rng.randrange(HISTORY_DAYS)), visitor, agent,
                                 _path_from(rng, _pick(rng, landing)), utm, referrer, cid))
        if email in PRICING_LEADS:
            for days_ago in rng.sample(range(1, 14), 2):
                visits.append(_Visit(_moment(rng, now, days_ago), visitor, agent, _path_from(rng, "/pricing"),
                                     SOURCES[3][1] if rng.random() < 0.5 else "", "", cid))
    return visits


def page_view_records(visits: list[_Visit], site, website_url: str, event_prefix: str, rng: random.Random,
                      now: datetime) -> list[str]:
    """Stream records of the visits' page views, made as the beacon endpoint makes them (the beacon
    checked, then event_record), received at their time in the past; none after `now`."""
    info = SiteInfo(site_id=site.id, account_id=site.account_id, host=site_host(site.website_url),
                    enabled=site.enabled)
    timed = []
    for visit_number, visit in enumerate(visits):
        moment, previous = visit.start, visit.referrer
        for number, path in enumerate(visit.pages):
            url = website_url + path + (f"?{visit.utm}" if visit.utm and number == 0 else "")
            gap, lag = rng.randint(15, 240), rng.randint(40, 900)
            if moment <= now:
                timed.append((moment, f"{event_prefix}-{visit_number:04d}-{number}", visit, url, previous,
                              lag))
            previous, moment = url, moment + timedelta(seconds=gap)
    timed.sort(key=lambda view: view[0])  # stored in the order they happened, as the stream has them
    records = []
    for moment, event_id, visit, url, referrer, lag in timed:
        received = int(moment.timestamp() * 1000)
        beacon = parse_beacon(json.dumps({"k": site.site_key, "u": url, "t": title_of(url), "r": referrer,
                                          "v": visit.visitor, "e": event_id, "c": visit.cid,
                                          "ts": received - lag}).encode())
        record = json.loads(event_record(beacon, info, visit.agent))
        record["rt"] = received
        records.append(json.dumps(record, separators=(",", ":")))
    return records


def title_of(url: str) -> str:
    path = "/" + url.split("://", 1)[1].partition("/")[2].partition("?")[0]
    return (PAGES.get(path.rstrip("/") or "/") or PAGES["/app"])[0]


def store(records: list[str]) -> int:
    """Store stream records in batches, as the worker's consumer does (its signal's receivers included)."""
    return sum(store_records(records[start:start + BATCH]) for start in range(0, len(records), BATCH))


def store_history(account_id: int, people: dict[str, int], website_url: str, rng: random.Random) -> int:
    """The month of page views (event ids made from the account's: stored once, whatever the runs)."""
    now = utcnow()
    site = setup.get_site(account_id)
    records = page_view_records(history(people, account_id, now, rng), site, website_url,
                                f"demo-{account_id}", rng, now)
    return store(records)


# ---- segment, automation, campaign -------------------------------------------------------------
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
    if automation.status != "active":
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
    if campaign.status in ("draft", "scheduled"):
        campaigns.send_now(campaign, public_url)
    db.session.commit()
    campaign_id = campaign.id
    run_jobs_until(lambda: db.session.get(Campaign, campaign_id).status == "sent",
                   "the demo campaign was not sent")
    if campaigns.click_counts(db.session.get(Campaign, campaign_id))["clicks"] == 0:
        record_clicks(account_id, campaign_id, website_url, rng)
    run_jobs()  # the segment updates for the pages the clicks led to


def record_clicks(account_id: int, campaign_id: int, website_url: str, rng: random.Random) -> None:
    """Clicks on the campaign's links, recorded as the click redirect records them (then stored as
    the consumer stores them), and the page views of the pages they land on, now."""
    emails = db.session.execute(select(Email.id, Email.contact_id, Contact.email)
                                .join(Contact, Contact.id == Email.contact_id)
                                .where(Email.campaign_id == campaign_id, Email.status.in_(("outbox", "sent")))
                                .order_by(Email.id)).all()
    candidates = [row for row in emails if row.email != ADA]  # Ada's click is the newcomer's to make
    clickers = rng.sample(candidates, k=min(len(candidates), max(1, round(len(emails) * 0.35))))
    clicks, visits, now = [], [], utcnow()
    for email_id, contact_id, _ in clickers:
        links = ["pricing"] if rng.random() < 0.75 else ["blog"]
        if rng.random() < 0.2:
            links = ["blog", "pricing"]
        cid = make_cid(account_id, contact_id, campaign_id, "email")
        visitor, agent = f"{rng.getrandbits(64):016x}", _agent(rng)
        for link in links:
            # Where the click redirect sends them: the link tagged with their cid, as in the email.
            destination = tag_url(website_url + SPRING_LINKS[link], cid)
            clicks.append(click_record(account_id=account_id, campaign_id=campaign_id, contact_id=contact_id,
                                       channel="email", url=destination, email_id=email_id))
            # The tracker sends the address without its cid, and the cid on its own.
            landing, _, utm = SPRING_LINKS[link].partition("?")
            visits.append(_Visit(now, visitor, agent, [landing], utm, "", cid))
    store_click_records(clicks)
    site = setup.get_site(account_id)
    store(page_view_records(visits, site, website_url, f"demo-{account_id}-click", rng, now))


class _BurstWorker(SimpleWorker):
    """A worker of this process that stops once the queues are empty. It leaves the process's
    SIGINT and SIGTERM handlers alone (those of `make run`: RQ's would take them over for good), and
    listens on no channel for `rq` commands (stopping that listener takes up to a second)."""

    def _install_signal_handlers(self):
        pass

    def subscribe(self):
        pass


def run_jobs() -> None:
    """Run the jobs waiting in the message and default queues here and now, as a burst worker: the
    campaign's start and batches, segment evaluations."""
    try:
        _BurstWorker([MESSAGES, DEFAULT], connection=get_redis()).work(
            burst=True, logging_level=current_app.config["LOG_LEVEL"])
    finally:
        db.session.remove()


def run_jobs_until(done, what: str, timeout: float = 30) -> None:
    """Run the waiting jobs until `done()` (another worker may hold some of them), or RuntimeError."""
    deadline = time.monotonic() + timeout
    while True:
        run_jobs()
        if done():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f}s: are the queues (Redis) and the workers well?")
        time.sleep(0.2)


def ensure_welcome_campaign(user, website_url: str) -> None:
    """A ready "Welcome" email to the Customers list, linking to the demo website."""
    customers = demo_list(user.account_id, CUSTOMERS)
    welcome = db.session.scalar(select(Campaign).where(Campaign.account_id == user.account_id,
                                                       Campaign.name == "Welcome"))
    if welcome is None:
        welcome = Campaign(account_id=user.account_id, created_by_id=user.id, channel="email", name="Welcome",
                           subject="Welcome to the Demo Shop", from_name="Demo Shop", lists=[customers],
                           status="draft")
        db.session.add(welcome)
    if welcome.status == "draft":
        welcome.body = WELCOME_BODY.replace("WEBSITE", website_url)


WELCOME_BODY = """<h1>Welcome!</h1>
<p>Thanks for joining the Demo Shop. Have a look at <a href="WEBSITE/pricing">our prices</a>
or read <a href="WEBSITE/blog">the blog</a>.</p>
<p>Every link above carries your own <code>cid</code>: click one, and your visit appears on your
contact page in Footfall.</p>"""


def demo_link(user, website_url: str, email: str = ADA) -> str:
    contact = find_by_email(user.account_id, email)
    return tag_url(website_url + "/pricing?utm_source=demo",
                   make_cid(user.account_id, contact.id, channel="test"))


def render_page(path: str, embed_code: str) -> str | None:
    """A page of the demo website with the embed code right before </head>, or None."""
    page = PAGES.get(path.rstrip("/") or "/") or (PAGES["/app"] if path.startswith("/app/") else None)
    if page is None:
        return None
    title, body = page
    links = " · ".join(f'<a href="{href}">{html.escape(PAGES[href][0].split(" · ")[0])}</a>'
                       for href in PAGES)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>\n"
            f"{embed_code}\n</head><body><nav>{links}</nav><h1>{html.escape(title)}</h1>{body}</body></html>")


class DemoWebsite:
    """The demo website, served from a thread."""

    def __init__(self, embed_code: str, port: int, host: str = "127.0.0.1"):
        code = embed_code

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                page = render_page(self.path.split("?", 1)[0], code)
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((page or "<h1>Not found</h1>").encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "DemoWebsite":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
