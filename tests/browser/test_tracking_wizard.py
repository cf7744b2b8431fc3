"""A marketer sets up website tracking in a real browser, then manages it."""
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Email, TrackingSite
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, server: str, email: str) -> None:
    page.goto(f"{server}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_wizard_then_turn_off_on_and_edit(page: Page, server, user, run_jobs):
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Settings").click()

    # Step 1: a bad address and no tick are both refused in place.
    page.get_by_label("Website URL").fill("example")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Enter a full domain name")).to_be_visible()
    expect(page.get_by_text("Tick the box to agree")).to_be_visible()
    page.get_by_label("Website URL").fill("www.shop.example")
    page.get_by_label("I agree to the").check()
    page.get_by_role("button", name="Continue").click()

    # Step 2: the code, copied to the clipboard.
    code_box = page.get_by_label("Embed code")
    expect(code_box).to_have_value(re.compile(r'^<script async src="http://127\.0\.0\.1:\d+/t/[\w-]+\.js"></script>$'))
    code = code_box.input_value()
    page.get_by_role("button", name="Copy code").click()
    expect(page.get_by_text("Copied", exact=True)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == code

    # Send to developer: queued, then delivered to the outbox by the worker.
    page.get_by_text("Send to developer", exact=True).first.click()
    page.get_by_label("Developer's email addresses").fill("dev@agency.example")
    page.get_by_role("button", name="Send to developer").click()
    expect(page.get_by_text("Sent to dev@agency.example.")).to_be_visible()
    run_jobs()
    expect(page.get_by_text("In the outbox")).to_be_visible(timeout=10_000)

    # Step 3: the status, then Finish.
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Not receiving data")).to_be_visible()
    page.get_by_role("button", name="Finish").click()

    # Management view: turning off asks first; Cancel keeps it on.
    switch = page.get_by_role("switch")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    dialog = page.get_by_role("dialog", name="Turn off website tracking?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "true")

    # With the keyboard: Enter opens the dialog, Escape closes it.
    page.get_by_role("switch").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.get_by_role("switch").click()
    page.get_by_role("button", name="Yes, turn it off").click()
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(page.locator("#tracking-status")).to_contain_text("Disabled")
    expect(page.get_by_text(f"Tracking turned off by {user.email}")).to_be_visible()

    # Turning on again needs no confirmation.
    page.get_by_role("switch").click()
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    expect(page.locator("#tracking-status")).to_contain_text("Not receiving data")

    # Edit the website inline.
    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Website URL").fill("ftp://nope")
    page.locator("#tracking-website").get_by_role("button", name="Save").click()
    expect(page.get_by_text("Only websites served over http:// or https://")).to_be_visible()
    page.get_by_label("Website URL").fill("https://newshop.example")
    page.locator("#tracking-website").get_by_role("button", name="Save").click()
    expect(page.get_by_text("Add the tracking code below to every page of https://newshop.example")).to_be_visible()

    db.session.rollback()
    site = db.session.scalar(select(TrackingSite))
    assert (site.website_url, site.enabled, site.wizard_step) == ("https://newshop.example", True, None)
    assert db.session.scalar(select(Email.status)) == "outbox"
