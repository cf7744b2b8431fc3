"""Rate limits on the doors anyone can knock on: sign-in, sign-up, beacons and the link redirects."""
import json
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.messaging import sms
from app.messaging.clicks import CLICKS_STREAM
from app.messaging.rendering import Message, Renderer
from app.models import Campaign, User
from app.models.types import utcnow
from app.queues import get_redis
from tests.conftest import PASSWORD, Auth, make_user
from tests.integration.test_ingest import BROWSER, beacon

FLOODER = "203.0.113.66"
NEIGHBOUR = "198.51.100.23"


@pytest.fixture
def app_config(app_config):
    # Small limits, so a flood is a few dozen requests.
    return {**app_config, "REGISTER_MAX_PER_HOUR": 3, "REDIRECT_RATE_PER_ADDRESS": 2,
            "INGEST_RATE_PER_SITE": 2}


def users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def sign_up(app, email: str, password: str = PASSWORD, address: str = FLOODER):
    """A sign-up from a fresh browser at `address`."""
    return app.test_client().post("/register", data={"email": email, "password": password},
                                  environ_base={"REMOTE_ADDR": address})


def test_sign_ups_from_one_address_are_limited(app):
    assert sign_up(app, "first@shop.example").status_code == 302
    for _ in range(app.config["REGISTER_MAX_PER_HOUR"] - 1):  # failed attempts count too
        assert sign_up(app, "second@shop.example", password="short").status_code == 422

    refused = sign_up(app, "third@shop.example")
    assert refused.status_code == 429
    assert "Too many sign-ups from your network. Try again in 60 minutes." in refused.get_data(as_text=True)
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert users() == 1

    assert sign_up(app, "third@shop.example", address=NEIGHBOUR).status_code == 302
    assert users() == 2


def test_a_locked_sign_in_says_when_to_try_again_and_locks_only_that_email(app, client, user):
    make_user("colleague@shop.example")
    auth = Auth(client)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert auth.login(password="wrong password!").status_code == 422

    refused = auth.login()
    assert refused.status_code == 429
    assert "Try again in 5 minutes." in refused.get_data(as_text=True)
    assert 0 < int(refused.headers["Retry-After"]) <= app.config["LOGIN_LOCK_SECONDS"]
    assert Auth(app.test_client()).login("colleague@shop.example").status_code == 302


def test_beacons_for_one_site_are_limited_whatever_the_address(app, client, site):
    rate = app.config["INGEST_RATE_PER_SITE"]
    started = time.monotonic()
    statuses = [client.post("/collect", data=json.dumps(beacon(site)), headers={"User-Agent": BROWSER},
                            environ_base={"REMOTE_ADDR": f"203.0.113.{n % 250}"}).status_code
                for n in range(rate * 20)]
    refilled = rate * (time.monotonic() - started)
    assert statuses.count(204) <= rate * 10 + refilled + 1
    assert statuses.count(429) >= rate * 10 - refilled - 1
    assert set(statuses) == {204, 429}


def click_path(site, contact) -> str:
    campaign = Campaign(account_id=site.account_id, channel="email", name="Fall sale", subject="Sale",
                        body="<p>Hi</p>", status="sent", started_at=utcnow())
    db.session.add(campaign)
    db.session.commit()
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    return urlsplit(renderer.link("https://www.shop.example/x", contact, "email")).path


def flood(client, path: str, count: int, address: str = FLOODER):
    started = time.monotonic()
    responses = [client.get(path, environ_base={"REMOTE_ADDR": address}) for _ in range(count)]
    return responses, time.monotonic() - started


def assert_limited(app, responses, elapsed: float, allowed_status: int) -> list:
    """The burst went through, then the rest were refused with a page saying to wait."""
    rate = app.config["REDIRECT_RATE_PER_ADDRESS"]
    allowed = [r for r in responses if r.status_code == allowed_status]
    refused = [r for r in responses if r.status_code == 429]
    assert len(allowed) + len(refused) == len(responses)
    assert rate * 10 <= len(allowed) <= rate * 10 + rate * elapsed + 1
    for response in refused:
        assert response.headers["Retry-After"] == "1"
        assert "Location" not in response.headers
        assert "Too many clicks" in response.get_data(as_text=True)
    return allowed


def test_click_redirects_from_one_address_are_limited(app, client, site, contact):
    path = click_path(site, contact)
    responses, elapsed = flood(client, path, app.config["REDIRECT_RATE_PER_ADDRESS"] * 20)
    redirected = assert_limited(app, responses, elapsed, 302)
    assert get_redis().xlen(CLICKS_STREAM) == len(redirected)  # refused clicks are not recorded

    other = client.get(path, environ_base={"REMOTE_ADDR": NEIGHBOUR})
    assert other.status_code == 302 and other.headers["Location"].startswith("https://www.shop.example/x?cid=")


def test_short_link_redirects_and_guesses_are_limited(app, client, site):
    link = sms.make_short_link(account_id=site.account_id, url="https://footfall.test/c/token")
    db.session.commit()
    count = app.config["REDIRECT_RATE_PER_ADDRESS"] * 20
    responses, elapsed = flood(client, f"/s/{link.code}", count)
    assert {r.headers["Location"] for r in assert_limited(app, responses, elapsed, 302)} == {link.url}

    guesses, elapsed = flood(client, "/s/guess123", count, address="192.0.2.44")
    assert_limited(app, guesses, elapsed, 404)
    assert client.get(f"/s/{link.code}", environ_base={"REMOTE_ADDR": NEIGHBOUR}).status_code == 302
