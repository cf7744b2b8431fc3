"""In Chromium: start an automation from the hot-lead template, add a contact-field update and a
webhook whose receiver is a local HTTP server, activate it; a contact's visit tags them, updates
their company, notifies the team and calls the webhook, as the contact page and the journey show."""
import pytest
from playwright.sync_api import Page, expect

from app.automations import triggers
from app.tracking.cid import make_cid
from tests.browser.test_automation_builder import add_step
from tests.browser.test_segment_builder import htmx_settled
from tests.browser.test_tracking_wizard import sign_in
from tests.support import wait_until, webhook_receiver

pytestmark = pytest.mark.browser


def edit_step(page: Page, number: int) -> None:
    page.get_by_role("button", name=f"Edit step {number}", exact=True).click()
    htmx_settled(page)


def test_a_template_path_with_actions_and_a_webhook_acts_on_the_contact(page: Page, server, website, user,
                                                                         contact, drain, run_jobs):
    demo, site = website
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Automations", exact=True).click()
    page.get_by_label("Hot-lead alert").check()
    page.get_by_role("button", name="New automation").click()
    expect(page.get_by_role("heading", name="Hot-lead alert")).to_be_visible()
    path = page.locator("#automation-path")
    expect(path.locator(".step-card").nth(0)).to_contain_text("Add the tag “hot”")
    expect(path.locator(".step-card").nth(1)).to_contain_text(f"Notify {user.email}")

    # One view of the pricing page is enough for this test.
    page.get_by_label("Trigger: number of views").fill("1")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

    # Update the contact's company after the tag; a bad value is refused in words first.
    add_step(page, "after step 1:", "Update a contact field")
    edit_step(page, 2)
    form = page.locator("form.step-card.editing")
    form.get_by_label("Field", exact=True).select_option(label="Company")
    form.get_by_label("Value", exact=True).fill("x" * 201)
    form.get_by_role("button", name="Save step").click()
    expect(page.get_by_role("alert")).to_contain_text("Keep it under 200 characters.")
    page.locator("form.step-card.editing").get_by_label("Value", exact=True).fill("Hot prospect")
    page.locator("form.step-card.editing").get_by_role("button", name="Save step").click()
    htmx_settled(page)
    expect(path.locator(".step-card").nth(1)).to_contain_text("Set company to Hot prospect")

    with webhook_receiver() as (url, received):
        add_step(page, "after step 3:", "Call a webhook")
        edit_step(page, 4)
        form = page.locator("form.step-card.editing")
        secret = form.get_by_label("Signing secret").input_value()
        assert secret.startswith("whsec_")
        form.get_by_label("Receiver address").fill(f"{url}/hooks/footfall")
        form.get_by_role("button", name="Save step").click()
        htmx_settled(page)
        expect(path.locator(".step-card").nth(3)).to_contain_text(f"Call the webhook {url}/hooks/footfall")

        page.get_by_role("button", name="Activate").click()
        expect(page.locator(".badge")).to_have_text("Active")

        # The contact arrives from an email and views the pricing page. (The worker's copy of the
        # account's rules is at most 5 seconds old; an earlier test's account had this id.)
        triggers.forget(site.account_id)
        visitor = page.context.new_page()
        visitor.goto(f"{demo.url}/pricing?cid={make_cid(site.account_id, contact.id)}")
        wait_until(lambda: drain() >= 1)
        run_jobs()
        wait_until(lambda: received)
        visitor.close()
    (hook_path, headers, _), = received
    assert hook_path == "/hooks/footfall" and headers["Footfall-Signature"].startswith("t=")
    payload = received.bodies()[0]["data"]
    assert payload["contact"]["email"] == contact.email and payload["contact"]["tags"] == ["hot"]
    assert payload["contact"]["company"] == "Hot prospect"
    assert payload["page_view"]["url"].endswith("/pricing")

    page.get_by_label("Contact's email").fill(contact.email)
    page.get_by_role("button", name="Show journey").click()
    result = page.locator("#contact-result")
    expect(result).to_contain_text("tagged hot")
    expect(result).to_contain_text("Company set to Hot prospect")
    expect(result).to_contain_text(f"team notified: {user.email}")
    expect(result).to_contain_text("webhook delivered (200) after 1 try")

    page.goto(f"{server}/contacts/{contact.id}")
    expect(page.locator("#contact-tags")).to_contain_text("hot")
    expect(page.locator("main")).to_contain_text("Hot prospect")
