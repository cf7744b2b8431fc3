"""From a campaign composed in the browser to a page view on the contact's timeline."""
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import PageView
from tests.browser.test_tracking_wizard import sign_in
from tests.integration.test_campaigns import make_list
from tests.support import smtp_server

pytestmark = pytest.mark.browser


def test_campaign_link_identifies_the_contact_and_the_web_version_does_not(
        page: Page, browser: Browser, server, website, contact, user, app, run_jobs, drain):
    demo, site = website
    make_list(site.account_id, "Customers", [contact])
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("button", name="New email").click()
    page.get_by_label("Campaign name").fill("Autumn news")
    page.get_by_label("Subject").fill("Autumn at the shop")
    page.get_by_label("HTML body").fill(
        f'<p>New prices: <a href="{demo.url}/pricing?ref=mail">see them</a></p>')
    page.get_by_label("Customers").check()
    # Not saved first: the confirmation states what is on screen now.
    page.get_by_role("button", name="Send…").click()
    dialog = page.get_by_role("dialog", name="Send “Autumn news”?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("It goes to 1 contact now.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Send…").click()
    expect(dialog.get_by_role("button", name="Yes, send now")).to_be_focused()
    page.keyboard.press("Enter")

    # Send now lands on the report, which follows the sending until it is sent.
    expect(page.get_by_text("Sending now.")).to_be_visible()
    report = page.locator("#campaign-report")
    expect(report).to_contain_text("Starting")
    expect(page.get_by_text("Scheduled for")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel the schedule")).to_have_count(0)
    with smtp_server() as (controller, handler):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        run_jobs()
    expect(report.locator(".badge")).to_have_text("Sent", timeout=10_000)
    expect(report).to_contain_text("Delivered1")
    (_, message), = handler.messages
    html = message.get_body(("html",)).get_content()
    tracked_link = re.search(r'href="([^"]*/c/[^"]+)"', html).group(1)
    web_version = re.search(r'href="([^"]*/m/[^"]+)"', html).group(1)

    # The contact clicks the link in the email: identified on the website.
    visitor = browser.new_context()
    landing = visitor.new_page()
    landing.goto(tracked_link)
    expect(landing).to_have_url(f"{demo.url}/pricing?ref=mail")  # cid used, then removed from the address
    # Someone reads the public web version and clicks: anonymous.
    reader = browser.new_context()
    web_page = reader.new_page()
    web_page.goto(web_version)
    web_page.get_by_role("link", name="see them").click()
    expect(web_page).to_have_url(f"{demo.url}/pricing?ref=mail")

    def stored():
        drain()
        return [(view.path, view.contact_id)
                for view in db.session.scalars(select(PageView).order_by(PageView.id))]
    from tests.support import wait_until
    views = wait_until(lambda: (lambda rows: rows if len(rows) == 2 else None)(stored()))
    assert sorted(views, key=lambda row: row[1] or 0) == [("/pricing", None), ("/pricing", contact.id)]
    page.goto(f"{server}/contacts/{contact.id}")
    expect(page.get_by_text(f"{demo.url}/pricing?ref=mail")).to_be_visible()
    visitor.close()
    reader.close()
