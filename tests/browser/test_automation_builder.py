"""Build "views /pricing → wait 1 day → if in segment: email (yes) / SMS (no)" in the browser,
fix what stops activation, activate it, and pause it again."""
import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_segment_builder import htmx_settled
from tests.browser.test_tracking_wizard import sign_in
from tests.conftest import make_contact
from tests.integration.test_automations_web import make_segment

pytestmark = pytest.mark.browser


def add_step(page: Page, where: str, kind: str, exact: bool = False) -> None:
    """Use the "Add a step" control at `where` ("after step 1:", "at the start of the Yes branch of
    step 2")."""
    choice = page.get_by_label(f"Add a step {where}", exact=exact)
    choice.select_option(label=kind)
    page.locator("form.add-step").filter(has=choice).get_by_role("button", name="Add").click()
    htmx_settled(page)


def test_build_activate_and_pause_an_automation(page: Page, server, site, user):
    make_segment(site.account_id, "Customers")
    make_contact(site.account_id, "ada@customer.example")
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Automations", exact=True).click()
    page.get_by_role("button", name="New automation").click()
    expect(page.get_by_role("heading", name="Untitled automation")).to_be_visible()
    expect(page.locator(".badge")).to_have_text("Draft")

    # The trigger: views a page containing /pricing (the default), under a name.
    page.get_by_label("Automation name").fill("Pricing follow-up")
    expect(page.get_by_label("Trigger: page URL or part of it")).to_have_value("/pricing")
    page.get_by_role("button", name="Save settings").click()
    htmx_settled(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Pricing follow-up")).to_be_visible()
    page.get_by_label("Trigger: page URL or part of it").fill("")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Enter the page that starts the automation.")).to_be_visible()
    page.get_by_label("Trigger: page URL or part of it").fill("/pricing")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

    # Wait 1 day; a step added by mistake is deleted after confirming.
    add_step(page, "at the start", "Wait", exact=True)
    path = page.locator("#automation-path")
    expect(path.locator(".step-card").first).to_contain_text("Wait 1 day")
    add_step(page, "after step 1:", "Send SMS")
    expect(path).to_contain_text("Send SMS: (no message yet)")
    page.get_by_role("button", name="Delete step 2").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete step 2?")
    dialog.get_by_role("button", name="Yes, delete it").click()
    htmx_settled(page)
    expect(path).not_to_contain_text("Send SMS:")

    # The split on the segment, with an email on Yes and an SMS on No.
    add_step(page, "after step 1:", "Yes/no split")
    page.get_by_role("button", name="Edit step 2").click()
    htmx_settled(page)
    page.get_by_label("Condition", exact=True).select_option(label="is in a segment")
    htmx_settled(page)
    page.get_by_label("Segment to check").select_option(label="Customers")
    page.get_by_role("button", name="Save step").click()
    htmx_settled(page)
    expect(path).to_contain_text("If in segment Customers")

    add_step(page, "at the start of the Yes branch of step 2", "Send email")
    add_step(page, "at the start of the No branch of step 2", "Send SMS")
    yes = page.get_by_role("region", name="Yes branch of step 2")
    no = page.get_by_role("region", name="No branch of step 2")
    expect(yes).to_contain_text("Send email")
    expect(no).to_contain_text("Send SMS")

    page.get_by_role("button", name="Edit step 3").click()
    htmx_settled(page)
    page.get_by_label("Subject", exact=True).fill("Questions about pricing?")
    page.get_by_label("HTML body", exact=True).fill("<p>Reply to this email and we will help.</p>")
    page.get_by_role("button", name="Save step").click()
    htmx_settled(page)
    expect(yes).to_contain_text("Send email: Questions about pricing?")

    # The SMS has no text yet: activation says so.
    page.get_by_role("button", name="Activate").click()
    htmx_settled(page)
    alert = page.locator(".problems[role=alert]")
    expect(alert).to_contain_text("Send SMS (step 5) has an empty message.")
    expect(page.locator(".badge")).to_have_text("Draft")

    page.get_by_role("button", name="Edit step 5").click()
    htmx_settled(page)
    page.get_by_label("Text", exact=True).fill("Questions? Reply to this message.")
    page.get_by_role("button", name="Save step").click()
    htmx_settled(page)
    expect(no).to_contain_text("Send SMS: Questions? Reply to this message.")
    expect(alert).to_have_count(0)  # the path changed: the old problems are gone

    page.get_by_role("button", name="Activate").click()
    expect(page.locator(".badge")).to_have_text("Active")
    expect(page.get_by_text("Pause to edit.")).to_be_visible()
    expect(page.get_by_label("Add a step at the start", exact=True)).to_have_count(0)
    expect(page.locator("#automation-settings")).to_contain_text("Views a page whose URL contains /pricing")
    expect(path).to_contain_text("Now at this step: 0")

    page.get_by_label("Contact's email").fill("ada@customer.example")
    page.get_by_role("button", name="Test with this contact").click()
    result = page.locator("#contact-result")
    expect(result).to_contain_text("would wait 1 day")
    expect(result).to_contain_text("so go down the No branch")
    page.get_by_role("button", name="Show journey").click()
    expect(result).to_contain_text("ada@customer.example has not gone through this automation.")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".badge")).to_have_text("Paused")
    expect(page.get_by_role("button", name="Activate")).to_be_visible()
    expect(page.get_by_label("Add a step at the start", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Automations", exact=True)).to_have_attribute("aria-current", "page")


def test_an_automation_started_by_a_custom_event(page: Page, server, site, user):
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Automations", exact=True).click()
    page.get_by_role("button", name="New automation").click()
    page.get_by_label("Automation name").fill("Pro welcome")
    page.get_by_label("What starts the automation").select_option(label="Contact does a custom event")
    htmx_settled(page)
    page.get_by_label("Trigger: event name, as signup").fill("signup")
    page.get_by_label("Trigger: property name (optional)").fill("plan")
    page.get_by_label("Trigger: property value").fill("pro")
    page.get_by_role("button", name="Add an auto-stop rule").click()
    htmx_settled(page)
    page.get_by_label("Auto-stop 1: kind").select_option(label="does a custom event")
    htmx_settled(page)
    page.get_by_label("Auto-stop 1: event name, as signup").fill("order.placed")
    page.get_by_role("button", name="Save settings").click()
    htmx_settled(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    expect(page.get_by_label("Trigger: event name, as signup")).to_have_value("signup")
    expect(page.get_by_label("Auto-stop 1: event name, as signup")).to_have_value("order.placed")
    page.locator("#automation-settings").screenshot(path="/tmp/footfall-automation-event-trigger.png")
