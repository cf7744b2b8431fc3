"""A contact views /pricing in Chromium: the automation's email reaches a real SMTP server,
with a link tagged for that contact."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from app.tracking.cid import make_cid, read_cid
from tests.integration.test_automations_engine import automation, email, end
from tests.support import smtp_server, wait_until

pytestmark = pytest.mark.browser


def test_a_page_view_in_the_browser_sends_the_automation_email(page: Page, website, contact, app, client,
                                                              drain, run_jobs):
    demo, site = website
    automation(site, [email(body=f'<p><a href="{demo.url}/pricing?plan=pro">Compare plans</a></p>'), end()])
    page.goto(f"{demo.url}/pricing?cid={make_cid(site.account_id, contact.id)}")
    expect(page).to_have_url(f"{demo.url}/pricing")
    wait_until(lambda: drain() >= 1)
    with smtp_server() as (controller, handler):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        run_jobs()  # the run advances, then the email is delivered
        run_jobs()
        wait_until(lambda: handler.messages)
    (recipients, message), = handler.messages
    assert recipients == [contact.email] and message["Subject"] == "Questions?"
    link = re.search(r'href="([^"]*/c/[^"]+)"', message.get_body(("html",)).get_content()).group(1)
    landing = client.get(urlsplit(link).path).headers["Location"]
    assert landing.startswith(f"{demo.url}/pricing?plan=pro&cid=")
    assert read_cid(parse_qs(urlsplit(landing).query)["cid"][0]).contact_id == contact.id
