"""Turning tracking on in Settings takes effect at once: a visitor who loaded pages while it was
off is tracked from the next page on, and the website's first beacon is stored."""
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import PageView
from tests.browser.test_snippet import stored_after
from tests.browser.test_tracking_wizard import sign_in

pytestmark = pytest.mark.browser


def test_the_next_page_after_turning_tracking_on_is_stored(page: Page, browser: Browser, server, website,
                                                           user, drain):
    demo, site = website
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Settings").click()
    page.wait_for_load_state()  # (the switch opens its dialog once the deferred app.js has run)
    page.get_by_role("switch").click()
    page.get_by_role("button", name="Yes, turn it off").click()
    expect(page.locator("#tracking-status")).to_contain_text("Disabled")

    visitor = browser.new_context()
    shop = visitor.new_page()
    shop.goto(f"{demo.url}/pricing")  # the script that does nothing, while tracking is off
    shop.wait_for_timeout(300)
    assert shop.evaluate("typeof window.footfall") == "undefined"

    page.get_by_role("switch").click()
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    shop.get_by_role("link", name="Blog").click()  # the very next page, at once
    expect(shop).to_have_title("Blog · Demo Shop")
    views = stored_after(1, drain)
    assert [view.path for view in views] == ["/blog"]
    page.reload()
    expect(page.locator("#tracking-status")).to_contain_text("Receiving data")
    expect(page.get_by_text("were ignored")).to_have_count(0)
    visitor.close()
    db.session.rollback()
    assert db.session.scalar(select(PageView.path)) == "/blog"
