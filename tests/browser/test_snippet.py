"""The embed code in a real browser, on a website served from another origin."""
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import PageView
from app.queues import get_redis
from app.tracking import setup
from app.tracking.cid import make_cid
from app.tracking.ingest import EVENTS_STREAM
from tests.support import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
def beacons(page: Page):
    """Every request the page sends to /collect."""
    sent = []
    page.on("request", lambda request: sent.append(request) if request.url.endswith("/collect") else None)
    return sent


def stored_after(expected: int, drain) -> list[PageView]:
    wait_until(lambda: get_redis().xlen(EVENTS_STREAM) >= expected)
    drain()
    return list(db.session.scalars(select(PageView).order_by(PageView.id)))


def test_a_contact_is_identified_then_recognised_by_cookie(page: Page, website, contact, drain, beacons):
    demo, site = website
    token = make_cid(site.account_id, contact.id, 42)
    page.goto(f"{demo.url}/pricing?utm_source=news&cid={token}&plan=pro#plans")
    expect(page).to_have_url(f"{demo.url}/pricing?utm_source=news&plan=pro#plans")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["_ff_id"]["value"] == token and cookies["_ff_id"]["sameSite"] == "Lax"
    assert cookies["_ff_id"]["expires"] > cookies["_ff_vid"]["expires"] - 60 > 0
    page.get_by_role("link", name="Blog").click()
    expect(page).to_have_title("Blog · Demo Shop")
    views = stored_after(2, drain)
    assert [(v.path, v.contact_id) for v in views] == [("/pricing", contact.id), ("/blog", contact.id)]
    assert "cid" not in views[0].url and views[0].utm_source == "news"
    assert views[1].referrer.startswith(f"{demo.url}/pricing")
    assert all(request.headers.get("content-type", "").startswith("text/plain") for request in beacons)


def test_a_fresh_browser_is_anonymous(page: Page, website, contact, drain):
    demo, _ = website
    page.goto(f"{demo.url}/")
    views = stored_after(1, drain)
    assert [(v.path, v.contact_id) for v in views] == [("/", None)]


def test_a_tampered_cid_is_anonymous(page: Page, website, contact, drain):
    demo, site = website
    token = make_cid(site.account_id, contact.id)
    tampered = token[:20] + ("x" if token[20] != "x" else "y") + token[21:]
    page.goto(f"{demo.url}/pricing?cid={tampered}")
    expect(page).to_have_url(f"{demo.url}/pricing")
    views = stored_after(1, drain)
    assert [(v.path, v.contact_id) for v in views] == [("/pricing", None)]


def test_single_page_app_navigations_are_page_views_without_duplicates(page: Page, website, drain, beacons):
    demo, _ = website
    page.goto(f"{demo.url}/app")
    for name in ("Inbox", "Settings", "Reports"):
        page.get_by_role("button", name=name).click()
    page.evaluate("history.replaceState({}, '', location.pathname)")  # same address: no new page view
    page.go_back()
    views = stored_after(5, drain)
    assert [v.path for v in views] == ["/app", "/app/inbox", "/app/settings", "/app/reports", "/app/settings"]
    page.wait_for_timeout(300)
    assert len(beacons) == 5


def test_tracking_turned_off_sends_and_stores_nothing(page: Page, website, drain, beacons, user):
    demo, site = website
    setup.set_enabled(site, user, False)
    db.session.commit()
    page.goto(f"{demo.url}/pricing")
    page.get_by_role("link", name="Blog").click()
    expect(page).to_have_title("Blog · Demo Shop")
    page.wait_for_timeout(300)
    assert beacons == []
    assert page.evaluate("typeof window.footfall") == "undefined"
    drain()
    assert db.session.scalar(select(PageView)) is None


def test_global_privacy_control_sends_nothing_and_sets_no_cookie(page: Page, website, contact, drain,
                                                                 beacons):
    demo, site = website
    page.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {value: true})")
    page.goto(f"{demo.url}/pricing?cid={make_cid(site.account_id, contact.id)}")
    expect(page).to_have_url(f"{demo.url}/pricing")  # the identity still leaves the address bar
    page.wait_for_timeout(300)
    assert beacons == []
    assert [c["name"] for c in page.context.cookies() if c["name"].startswith("_ff")] == []


def test_the_command_queue_and_consent(page: Page, website, drain, beacons):
    demo, _ = website
    page.add_init_script("window.footfall = function () { (footfall.q = footfall.q || []).push(arguments); };"
                         "footfall('consent', false);")
    page.goto(f"{demo.url}/")
    page.wait_for_timeout(300)
    assert beacons == []
    page.evaluate("footfall('consent', true); footfall('pageview')")
    wait_until(lambda: len(beacons) == 1)
    assert (page.evaluate("Object.keys(window).filter(k => k.toLowerCase().includes('footfall'))")
            == ["footfall"])


def test_track_sends_a_custom_event_of_the_identified_contact(page: Page, website, contact, drain):
    from app.models import CustomEvent

    demo, site = website
    page.goto(f"{demo.url}/pricing?cid={make_cid(site.account_id, contact.id)}")
    expect(page).to_have_url(f"{demo.url}/pricing")
    stored_after(1, drain)  # the page view identifies the browser
    page.evaluate("footfall('track', 'signup', {plan: 'pro', seats: 3, annual: true})")
    page.evaluate("footfall('track', 'bad name!', {})")  # refused by /collect, the page is unharmed
    wait_until(lambda: get_redis().xlen(EVENTS_STREAM) >= 2)
    drain()
    events = list(db.session.scalars(select(CustomEvent)))
    assert [(e.name, e.contact_id, e.source, e.properties) for e in events] == [
        ("signup", contact.id, "website", {"plan": "pro", "seats": 3, "annual": True})]
    assert events[0].url == f"{demo.url}/pricing"
    assert len(stored_after(2, drain)) == 1  # a custom event is no page view


def test_an_event_queued_before_the_script_goes_after_the_identifying_page_view(page: Page, website, contact,
                                                                                drain, beacons):
    from app.models import CustomEvent

    demo, site = website
    page.add_init_script("window.footfall = function () { (footfall.q = footfall.q || []).push(arguments); };"
                         "footfall('track', 'landed', {from: 'email'});")
    page.goto(f"{demo.url}/pricing?cid={make_cid(site.account_id, contact.id)}")
    wait_until(lambda: get_redis().xlen(EVENTS_STREAM) >= 2)
    assert ['"n":' in (request.post_data or "") for request in beacons] == [False, True]  # the view first
    drain()
    (event,) = db.session.scalars(select(CustomEvent))
    assert (event.name, event.contact_id, event.properties) == ("landed", contact.id, {"from": "email"})
