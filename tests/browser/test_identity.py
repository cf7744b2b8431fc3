"""The identity rules in a real browser: the latest click wins (also through nginx in first-party
mode), forwarded links, "Forget this browser", earlier visits and verified identify, each seen
on the pages a marketer uses."""
import json

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import PageView
from app.queues import get_redis
from app.tracking import identity
from app.tracking.cid import make_cid
from app.tracking.ingest import EVENTS_STREAM
from tests.browser.test_first_party import is_beacon, shop  # noqa: F401 (the nginx fixture)
from tests.browser.test_tracking_wizard import sign_in
from tests.conftest import make_contact
from tests.support import wait_until

pytestmark = pytest.mark.browser


def stored(expected: int, drain) -> list[tuple[str, int | None]]:
    """(path, contact id) of every stored page view, once `expected` entries reached the stream."""
    wait_until(lambda: get_redis().xlen(EVENTS_STREAM) >= expected)
    drain()
    views = db.session.scalars(select(PageView).order_by(PageView.id))
    return [(view.path, view.contact_id) for view in views]


@pytest.fixture
def grace(site):
    return make_contact(site.account_id, "grace@customer.example", first_name="Grace", last_name="Hopper")


def identify_call(email: str, signature: str) -> str:
    return f"footfall('identify', {json.dumps({'email': email, 'signature': signature})})"


def visit(page: Page, url: str):
    with page.expect_response(lambda response: response.url.endswith("/collect")):
        page.goto(url)


def test_the_latest_click_wins_and_both_contact_pages_show_it(page: Page, browser: Browser, server, website,
                                                              user, contact, grace, drain):
    demo, site = website
    visit(page, f"{demo.url}/pricing?cid={make_cid(site.account_id, contact.id)}")
    visit(page, f"{demo.url}/blog?cid={make_cid(site.account_id, grace.id)}")
    visit(page, f"{demo.url}/")
    assert stored(3, drain) == [("/pricing", contact.id), ("/blog", grace.id), ("/", grace.id)]
    marketer = browser.new_page()
    sign_in(marketer, server, user.email)
    marketer.goto(f"{server}/contacts/{grace.id}")
    switched_in = "A browser identified as Ada Lovelace opened this contact's link"
    expect(marketer.get_by_text(switched_in)).to_be_visible()
    marketer.goto(f"{server}/contacts/{contact.id}")
    expect(marketer.get_by_text("One of their browsers opened a link of Grace Hopper's")).to_be_visible()
    marketer.close()


def test_the_latest_click_wins_through_the_websites_proxy(page: Page, shop, contact, grace, drain):  # noqa: F811
    url, site = shop
    with page.expect_response(is_beacon):
        page.goto(f"{url}/pricing?cid={make_cid(site.account_id, contact.id)}")
    with page.expect_response(is_beacon):
        page.goto(f"{url}/blog?cid={make_cid(site.account_id, grace.id)}")
    with page.expect_response(is_beacon):
        page.goto(f"{url}/")
    assert page.evaluate("document.cookie") == ""
    assert stored(3, drain) == [("/pricing", contact.id), ("/blog", grace.id), ("/", grace.id)]


def test_a_forwarded_link_on_a_further_browser_is_flagged_then_a_browser_forgotten(
        page: Page, browser: Browser, server, website, user, contact, drain):
    demo, site = website
    sign_in(page, server, user.email)
    page.goto(f"{server}/settings/tracking")
    limit = page.get_by_label("Browsers one contact's links identify, at most")
    expect(limit).to_have_value("3")
    limit.fill("1")
    page.get_by_role("button", name="Save identity rules").click()
    expect(page.locator("#tracking-identity").get_by_role("status")).to_have_text("Saved.")

    token = make_cid(site.account_id, contact.id)
    recipient, friend = browser.new_page(), browser.new_page()  # (each in a context of its own)
    visit(recipient, f"{demo.url}/pricing?cid={token}")
    assert stored(1, drain) == [("/pricing", contact.id)]
    visit(friend, f"{demo.url}/blog?cid={token}")
    assert stored(2, drain)[-1] == ("/blog", None)

    page.goto(f"{server}/contacts/{contact.id}")
    browsers = page.locator("#contact-browsers")
    expect(browsers.get_by_text("Possibly forwarded", exact=True)).to_be_visible()
    expect(page.get_by_text("Possibly forwarded: another browser opened their link")).to_be_visible()
    forget = browsers.get_by_role("button", name="Forget this browser")
    expect(forget).to_have_count(1)
    forget.focus()
    page.keyboard.press("Enter")
    expect(browsers.get_by_role("status")).to_contain_text("The browser is anonymous now")
    page.screenshot(path="/tmp/footfall-contact-browsers.png", full_page=True)
    visit(recipient, f"{demo.url}/")  # its cookie still holds the link from before
    assert stored(3, drain)[-1] == ("/", None)
    recipient.context.close()
    friend.context.close()


def test_earlier_visits_attached_when_turned_on(page: Page, browser: Browser, server, website, user, contact,
                                                drain):
    demo, site = website
    sign_in(page, server, user.email)
    page.goto(f"{server}/settings/tracking")
    checkbox = page.get_by_label("Attach a browser's earlier anonymous visits")
    expect(checkbox).not_to_be_checked()
    expect(page.get_by_text("they never start or stop an automation")).to_be_visible()
    checkbox.check()
    page.get_by_role("button", name="Save identity rules").click()
    expect(page.locator("#tracking-identity").get_by_role("status")).to_have_text("Saved.")

    visitor = browser.new_context().new_page()
    visit(visitor, f"{demo.url}/blog")
    assert stored(1, drain) == [("/blog", None)]
    visit(visitor, f"{demo.url}/pricing?cid={make_cid(site.account_id, contact.id)}")
    assert stored(2, drain) == [("/blog", contact.id), ("/pricing", contact.id)]
    page.goto(f"{server}/contacts/{contact.id}")
    expect(page.locator(".timeline").get_by_text("Earlier visit")).to_have_count(1)
    expect(page.get_by_text("1 earlier anonymous page view of the browser attached")).to_be_visible()
    visitor.context.close()


def test_verified_identify_for_a_signed_in_customer(page: Page, browser: Browser, server, website, user,
                                                    contact, drain):
    demo, site = website
    sign_in(page, server, user.email)
    page.goto(f"{server}/settings/tracking")
    page.get_by_role("button", name="Turn verified identify on").click()
    expect(page.get_by_text("Verified identify is on.")).to_be_visible()
    secret = page.get_by_label("Secret (keep it on your server)").input_value()
    page.get_by_text("Python", exact=True).click()  # the <details> opens
    expect(page.get_by_label("Python code")).to_be_visible()
    assert secret in page.get_by_label("Python code").input_value()
    page.screenshot(path="/tmp/footfall-verified-identify.png", full_page=True)

    customer = browser.new_context().new_page()
    visit(customer, f"{demo.url}/app")
    signature = identity.signature(secret, contact.email)
    with customer.expect_response(lambda response: response.url.endswith("/collect")) as answer:
        customer.evaluate(identify_call(contact.email, signature))
    assert answer.value.status == 204
    visit(customer, f"{demo.url}/blog")
    forged = browser.new_context().new_page()
    visit(forged, f"{demo.url}/app")
    with forged.expect_response(lambda response: response.url.endswith("/collect")):
        forged.evaluate(identify_call(contact.email, "0" * 64))
    visit(forged, f"{demo.url}/blog")
    views = stored(5, drain)
    assert views == [("/app", None), ("/blog", contact.id), ("/app", None), ("/blog", None)]
    customer.context.close()
    forged.context.close()
