"""First-party mode in a real browser, through a real nginx in front of the website and the app:
the proxy rule Settings shows, pasted as it is."""
import re
import textwrap
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.demo import DemoWebsite
from app.extensions import db
from app.models import PageView
from app.queues import get_redis
from app.tracking import first_party, setup
from app.tracking.cid import make_cid
from app.tracking.ingest import EVENTS_STREAM
from tests.support import free_port, nginx, wait_until

pytestmark = pytest.mark.browser
DAY = 86400


@pytest.fixture
def shop(server, site, user, tmp_path):
    """The website behind nginx: / to the website, /ff/ to Footfall by the nginx rule of Settings."""
    setup.set_first_party(site, user, True)
    db.session.commit()
    website = DemoWebsite(setup.embed_code(site, server), free_port()).start()
    (rule,) = [rule for rule in setup.proxy_rules(site, server) if rule.key == "nginx"]
    locations = textwrap.indent(rule.text, " " * 8) + f"""
        location / {{
            proxy_pass {website.url};
        }}"""
    with nginx(tmp_path / "nginx", locations) as url:
        setup.change_website(site, user, url)
        db.session.commit()
        yield url, site
    website.stop()


def is_beacon(response) -> bool:
    return response.url.endswith("/ff/collect")


def stored_after(expected: int, drain) -> list[PageView]:
    wait_until(lambda: get_redis().xlen(EVENTS_STREAM) >= expected)
    drain()
    return list(db.session.scalars(select(PageView).order_by(PageView.id)))


def test_a_contact_stays_identified_by_server_set_cookies_days_later(page: Page, shop, contact, drain,
                                                                     monkeypatch):
    url, site = shop
    token = make_cid(site.account_id, contact.id, 42)
    with page.expect_response(is_beacon) as answer:
        page.goto(f"{url}/pricing?utm_source=news&cid={token}")
    expect(page).to_have_url(f"{url}/pricing?utm_source=news")
    set_cookie = answer.value.header_value("set-cookie") or ""
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/", f"Max-Age={first_party.COOKIE_LIFETIME}"):
        assert attribute in set_cookie, (attribute, set_cookie)
    assert page.evaluate("document.cookie") == ""  # no identity a script on the page can read
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["_ff_id"]["httpOnly"] and cookies["_ff_id"]["value"] == token
    assert cookies["_ff_id"]["expires"] > time.time() + 390 * DAY  # 13 months, not a script's 7 days
    (first,) = stored_after(1, drain)
    assert (first.path, first.contact_id, first.utm_source) == ("/pricing", contact.id, "news")

    # Eight days later, by the app's clock: past Safari's cap on cookies written by scripts.
    later = time.time() + 8 * DAY
    monkeypatch.setattr(first_party, "time", type("Clock", (), {"time": staticmethod(lambda: later)}))
    with page.expect_response(is_beacon) as answer:
        page.goto(f"{url}/blog")
    assert "_ff_vid=" in (answer.value.header_value("set-cookie") or "")  # refreshed: a new day
    views = stored_after(2, drain)
    assert [(view.path, view.contact_id) for view in views] == [("/pricing", contact.id),
                                                                ("/blog", contact.id)]
    assert views[1].visitor_id == views[0].visitor_id


def test_consent_withdrawn_deletes_the_httponly_cookies(page: Page, shop, contact, drain):
    url, site = shop
    with page.expect_response(is_beacon):
        page.goto(f"{url}/pricing?cid={make_cid(site.account_id, contact.id)}")
    assert {cookie["name"] for cookie in page.context.cookies()} == {"_ff_id", "_ff_vid"}
    with page.expect_response(lambda response: response.url.endswith("/ff/forget")):
        page.evaluate("footfall('consent', false)")
    assert page.context.cookies() == []
    page.evaluate("footfall('pageview')")
    with page.expect_response(is_beacon):  # a new page: consent is the site's to ask again; anonymous
        page.goto(f"{url}/blog")
    views = stored_after(2, drain)
    assert [(view.path, view.contact_id) for view in views] == [("/pricing", contact.id), ("/blog", None)]


def test_a_proxy_without_the_secret_is_refused_and_nothing_is_stored(page: Page, server, site, user, tmp_path,
                                                                      drain):
    setup.set_first_party(site, user, True)
    db.session.commit()
    website = DemoWebsite(setup.embed_code(site, server), free_port()).start()
    host = server.split("//", 1)[1]
    locations = f"""
        location ^~ /ff/ {{ proxy_pass http://{host}/; }}
        location / {{ proxy_pass {website.url}; }}"""
    try:
        with nginx(tmp_path / "nginx", locations) as url:
            setup.change_website(site, user, url)
            db.session.commit()
            with page.expect_response(is_beacon) as answer:
                page.goto(f"{url}/pricing")
            assert answer.value.status == 403 and not page.context.cookies()
    finally:
        website.stop()
    assert get_redis().xlen(EVENTS_STREAM) == 0


def test_the_marketer_switches_to_first_party_and_copies_a_proxy_rule(page: Page, server, site, user):
    from tests.browser.test_tracking_wizard import sign_in

    sign_in(page, server, user.email)
    page.goto(f"{server}/settings/tracking")
    expect(page.get_by_label("Standard: from Footfall's address")).to_be_checked()
    page.get_by_label("First-party: through your website's own address").check()
    page.get_by_role("button", name="Save how the code is served").click()
    expect(page.get_by_text("Saved. Copy the code again")).to_be_visible()
    code = f'<script async src="/ff/t/{site.site_key}.js"></script>'
    expect(page.get_by_label("Embed code")).to_have_value(code)
    page.get_by_text("nginx", exact=True).click()  # the <details> opens
    rule = page.get_by_label("nginx rule")
    db.session.refresh(site)
    expect(rule).to_have_value(re.compile(re.escape(site.proxy_secret)))
    page.get_by_role("button", name="Copy the nginx rule").click()
    expect(page.get_by_text("Copied")).to_be_visible()
    assert site.proxy_secret in page.evaluate("navigator.clipboard.readText()")
    page.get_by_text("Caddy", exact=True).focus()
    page.keyboard.press("Enter")  # keyboard-usable: Enter opens a rule
    expect(page.get_by_label("Caddy rule")).to_be_visible()
