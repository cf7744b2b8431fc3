"""click: GET /c/<token> (the click redirect of a campaign link) requests per second under
gunicorn, over a hello-world route of the same app (target: click_redirect_vs_hello_ratio ≥ 0.6).

The token is the one a campaign email carries for a contact's link to the tracked site, made by
Renderer.link(). Server, load generator and alternation are ingest's (tests/benchmarks/ingest.py):
hello and click runs alternate, each ratio compares a click run with the hello run just before
it, and the medians are reported. Clients never follow the redirect; every response must be a
302 to the link's tagged address, and every click must have pushed its one stream entry.
"""
from __future__ import annotations

import statistics
from functools import partial
from urllib.parse import parse_qs, urlsplit

from redis import Redis

from app import create_app
from app.extensions import db
from app.messaging.clicks import CLICKS_STREAM
from app.messaging.rendering import Message, Renderer
from app.messaging.tokens import read_click_token
from app.models import Campaign
from app.models.types import utcnow
from app.tracking.cid import read_cid
from tests.benchmarks.harness import (BROWSER, CAMPAIGN_BODY, PUBLIC_URL, WEBSITE, BenchmarkFailed,
                                      Environment, create_list, create_owner, first_contact,
                                      interleaved_pairs, median_ratio)
from tests.benchmarks.ingest import RUN_SECONDS, RUNS, WARMUP_SECONDS, expect, gunicorn, hello_request, load
from tests.support import free_port

LINK = f"{WEBSITE}/pricing?plan=pro#faq"
REDIRECTED = "302 to the link"


def click_request(path: str, tag: str) -> tuple[str, str, bytes | None, dict[str, str]]:
    """A mail reader opening a campaign link: every click of the same link is alike."""
    return "GET", path, None, {"User-Agent": BROWSER}


def redirect_outcome(location: str, response) -> str:
    """REDIRECTED for a 302 to `location`, else what came instead."""
    got = response.getheader("Location")
    return REDIRECTED if response.status == 302 and got == location else f"{response.status} to {got}"


def click_link() -> tuple[str, str]:
    """A sent campaign's link to the site for its first contact: the /c/ path, and the tagged
    address the redirect must answer with. Runs in an app context."""
    user = create_owner()
    create_list(user.account_id, 1)
    contact = first_contact(user.account_id)
    campaign = Campaign(account_id=user.account_id, channel="email", name="Fall sale",
                        subject="Our fall sale", body=CAMPAIGN_BODY, status="sent", started_at=utcnow())
    db.session.add(campaign)
    db.session.commit()
    url = Renderer(Message.of_campaign(campaign), PUBLIC_URL).link(LINK, contact, "email")
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != PUBLIC_URL or not parts.path.startswith("/c/"):
        raise BenchmarkFailed(f"the link {url} does not go through the click redirect")
    # The address the link carries: the link itself, tagged with the contact's cid.
    click = read_click_token(parts.path.removeprefix("/c/"))
    if click is None:
        raise BenchmarkFailed(f"the link {url} carries no click token the redirect reads")
    destination = click.destination
    tagged = urlsplit(destination)
    claims = read_cid(parse_qs(tagged.query).get("cid", [""])[0])
    if not (destination.startswith(f"{WEBSITE}/pricing?plan=pro&cid=") and tagged.fragment == "faq" and claims
            and (claims.contact_id, claims.message_id) == (contact.id, campaign.id)):
        raise BenchmarkFailed(f"the link leads to {destination}, not to {LINK} tagged for the contact")
    return parts.path, destination


def run(env: Environment) -> dict[str, float]:
    app = create_app(env.app_config(PUBLIC_URL=PUBLIC_URL))
    with app.app_context():
        path, destination = click_link()
    click, redirected = partial(click_request, path), partial(redirect_outcome, destination)
    redis = Redis.from_url(env.redis_url)
    port = free_port()
    clicks = 0

    def hello_rate(index: int) -> float:
        hello = load(port, hello_request, RUN_SECONDS, f"hello{index}")
        expect(hello, 200, "/bench/hello")
        return hello.requests_per_s

    def click_rate(index: int) -> float:
        nonlocal clicks
        redirects = load(port, click, RUN_SECONDS, f"run{index}", redirected)
        expect(redirects, REDIRECTED, "/c/<token>")
        clicks += redirects.statuses[REDIRECTED]
        return redirects.requests_per_s

    with gunicorn(env, port):
        # Every worker's Redis connection and serializers are made before timing.
        expect(load(port, hello_request, WARMUP_SECONDS, "warmup"), 200, "/bench/hello")
        warmup = load(port, click, WARMUP_SECONDS, "warmup", redirected)
        expect(warmup, REDIRECTED, "/c/<token>")
        clicks += warmup.statuses[REDIRECTED]
        pairs = interleaved_pairs(hello_rate, click_rate, RUNS, ("hello/s", "click/s"))
    recorded = redis.xlen(CLICKS_STREAM)
    if recorded != clicks:
        raise BenchmarkFailed(f"{clicks} redirects recorded {recorded} clicks")
    return {
        "click_requests_per_s": statistics.median(pair.measured for pair in pairs),
        "click_hello_requests_per_s": statistics.median(pair.baseline for pair in pairs),
        "click_redirect_vs_hello_ratio": median_ratio(pairs),
    }
