"""One public-URL rule for every link, whatever sends it: PUBLIC_URL, else the address a signed-in
user reached the app at (a guess, which Settings warns about)."""
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Campaign, Email
from app.models.types import utcnow
from tests.conftest import HX, PASSWORD
from tests.integration.test_automations_engine import automation, email, end, view
from tests.integration.test_campaigns import draft, make_list

GUESSED = "http://footfall.internal:8000"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PUBLIC_URL": ""}


def link_hosts(html: str) -> set[str]:
    return {href.split("/c/")[0].split("/u/")[0] for href in html.split('href="')[1:] if "/c/" in href
            or "/u/" in href}


class ClientAt:
    """A test client whose every request goes to one address."""

    def __init__(self, client, base_url: str):
        self.client, self.base_url = client, base_url

    def get(self, *args, **kwargs):
        return self.client.get(*args, base_url=self.base_url, **kwargs)

    def post(self, *args, **kwargs):
        return self.client.post(*args, base_url=self.base_url, **kwargs)


@pytest.fixture
def marketer(client, user):
    """A client signed in at GUESSED: the address the marketer uses the app at."""
    at = ClientAt(client, GUESSED)
    assert at.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return at


def test_without_public_url_every_path_builds_links_from_the_same_guess(marketer, site, contact, run_jobs):
    item = make_list(site.account_id, "One", [contact])
    send = SimpleNamespace(client=marketer)
    now_id, data = draft(send, site, [item.id])
    marketer.post(f"/campaigns/{now_id}/send", data={**data, "when": "now"}, headers=HX)
    later_id, data = draft(send, site, [item.id])
    later = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    marketer.post(f"/campaigns/{later_id}/send", data={**data, "when": "later", "scheduled_at": later},
                  headers=HX)
    db.session.get(Campaign, later_id).scheduled_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    automation(site, [email(), end()])
    view(site, contact)
    from worker.jobs.messages import start_due_campaigns
    run_jobs()
    start_due_campaigns()  # the minute sweep, in a job: no request at all
    run_jobs()
    sent = list(db.session.scalars(select(Email).order_by(Email.id)))
    assert {item.kind for item in sent} == {"campaign", "automation"} and len(sent) == 3
    for message in sent:
        assert link_hosts(message.html_body) == {GUESSED}, message.kind


def test_settings_warns_while_the_public_url_is_a_guess(marketer, site):
    page = marketer.get("/settings/tracking").get_data(as_text=True)
    assert "PUBLIC_URL is not set" in page and f"<strong>{GUESSED}</strong>" in page
    assert f"{GUESSED}/t/{site.site_key}.js" in page  # the embed code


def test_with_public_url_set_there_is_no_guess_and_no_warning(app, marketer, site):
    app.config["PUBLIC_URL"] = "https://footfall.example.com"
    page = marketer.get("/settings/tracking").get_data(as_text=True)
    assert "PUBLIC_URL is not set" not in page
    assert "https://footfall.example.com/t/" in page


def test_the_guess_follows_the_last_address_used_and_never_a_malformed_one(client, user, site):
    from app.public_url import GUESS_KEY
    from app.queues import get_redis
    for address in ("http://first.internal", "http://second.internal", "http://first.internal"):
        at = ClientAt(client, address)
        assert at.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        at.get("/")
    assert get_redis().get(GUESS_KEY) == b"http://first.internal"
    client.get("/", headers={"Host": 'first.internal"><script>'})
    assert get_redis().get(GUESS_KEY) == b"http://first.internal"
