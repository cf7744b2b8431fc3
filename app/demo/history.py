"""A month of page views for the demo account: anonymous visits shaped by weekday and hour (with
a peak the day a blog post was shared) and the contacts' own, made into stream records as the
beacon endpoint makes them and stored as the worker's consumer stores them. The record making and
storing also serve the page views of the demo campaign's clicks (app.demo.content).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.demo.data import ADA, ADA_VISITS, DEMO_CONTACTS, HISTORY_DAYS, NEVER_VISITED, PRICING_LEADS
from app.demo.website import title_of
from app.models.types import utcnow
from app.tracking import setup
from app.tracking.cid import make_cid
from app.tracking.events import store_records
from app.tracking.ingest import event_record, parse_beacon
from app.tracking.sites import SiteInfo
from app.tracking.urls import site_host

BATCH = 500

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


@dataclass
class Visit:
    start: datetime
    visitor: str
    agent: str
    pages: list[str]
    utm: str = ""
    referrer: str = ""
    cid: str = ""


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def random_agent(rng: random.Random) -> str:
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


def history(people: dict[str, int], account_id: int, now: datetime, rng: random.Random) -> list[Visit]:
    """The visits of the last HISTORY_DAYS days: anonymous ones shaped by weekday and hour, growing
    over the month, with a peak the day a blog post was shared; and the contacts' own."""
    visits = []
    for days_ago in range(HISTORY_DAYS):
        weekday = (now - timedelta(days=days_ago)).weekday()
        growth = 0.75 + 0.5 * (HISTORY_DAYS - 1 - days_ago) / (HISTORY_DAYS - 1)
        count = round(ANONYMOUS_VISITS_PER_DAY * WEEKDAYS[weekday] * growth * rng.uniform(0.85, 1.15))
        for _ in range(count):
            utm, referrer = _source(rng)
            visits.append(Visit(_moment(rng, now, days_ago), f"{rng.getrandbits(64):016x}", random_agent(rng),
                                _path_from(rng, _pick(rng, LANDING)), utm, referrer))
        if days_ago == SHARED_DAYS_AGO:
            for _ in range(SHARED_VISITS):
                visits.append(Visit(_moment(rng, now, days_ago, hour=rng.choice([15, 16, 17, 18, 19])),
                                    f"{rng.getrandbits(64):016x}", random_agent(rng),
                                    _path_from(rng, "/blog"),
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
        visitor, agent = f"{rng.getrandbits(64):016x}", random_agent(rng)
        if email == ADA:
            visits += [Visit(_moment(rng, now, days_ago, hour), visitor, AGENTS["desktop"][1], pages, utm,
                             referrer, cid) for days_ago, hour, utm, referrer, pages in ADA_VISITS]
            continue
        customer = "C" in next(on for address, *_, on in DEMO_CONTACTS if address == email)
        landing = {"/": 30, "/blog": 30, "/pricing": 10, "/app": 60 if customer else 10}
        for _ in range(rng.randint(1, 6)):
            utm, referrer = rng.choice([("", ""), ("", ""), (SOURCES[3][1], ""), _source(rng)])
            visits.append(Visit(_moment(rng, now, rng.randrange(HISTORY_DAYS)), visitor, agent,
                                _path_from(rng, _pick(rng, landing)), utm, referrer, cid))
        if email in PRICING_LEADS:
            for days_ago in rng.sample(range(1, 14), 2):
                visits.append(Visit(_moment(rng, now, days_ago), visitor, agent, _path_from(rng, "/pricing"),
                                    SOURCES[3][1] if rng.random() < 0.5 else "", "", cid))
    return visits


def page_view_records(visits: list[Visit], site, website_url: str, event_prefix: str, rng: random.Random,
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
