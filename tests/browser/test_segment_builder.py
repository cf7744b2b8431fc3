"""Build a two-group segment in the browser, watch the count change, save it, send to it."""
import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_tracking_wizard import sign_in
from tests.conftest import make_contact
from tests.integration.test_campaigns import make_list
from tests.integration.test_tracking_setup import add_page_view

pytestmark = pytest.mark.browser


def htmx_settled(page: Page) -> None:
    """Wait until htmx has swapped in and wired up new content, as a person's pause would."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")


def test_two_groups_live_count_save_and_use_as_audience(page: Page, server, site, user, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada")
    bob = make_contact(site.account_id, "bob@customer.example", first_name="Bob")
    make_contact(site.account_id, "cy@customer.example")
    for _ in range(2):
        add_page_view(site, path="/pricing", contact_id=ada.id)
    make_list(site.account_id, "Newsletter", [bob])

    sign_in(page, server, user.email)
    page.get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Segment name").fill("Warm leads")
    page.get_by_label("Page URL or part of it").fill("/pricing")
    page.get_by_label("Number of views").fill("2")
    preview = page.locator("#segment-preview")
    expect(preview.locator(".count")).to_have_text("1")
    expect(preview).to_contain_text("ada@customer.example")

    page.get_by_role("button", name="Add a group").click()
    htmx_settled(page)
    page.locator("select[name='groups-1-rules-0-type']").select_option("list")
    list_choice = page.locator("select[name='groups-1-rules-0-list_id']")
    expect(list_choice).to_be_visible()
    list_choice.select_option(label="Newsletter")
    page.get_by_label("Join the groups with").select_option("or")
    expect(preview.locator(".count")).to_have_text("2")
    expect(preview).to_contain_text("in the last 30 days OR are on Newsletter")

    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("heading", name="Segments")).to_be_visible()
    run_jobs()
    page.reload()
    row = page.get_by_role("row", name="Warm leads")
    expect(row).to_contain_text("2")

    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("button", name="New email").click()
    page.get_by_label("Segment: Warm leads").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("2 subscribed contacts in the saved lists and segments.")).to_be_visible()


def test_an_event_rule_with_a_property(page: Page, server, site, user):
    from app.extensions import db
    from app.models import CustomEvent
    from app.models.types import utcnow

    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada")
    bob = make_contact(site.account_id, "bob@customer.example", first_name="Bob")
    for contact, plan in ((ada, "pro"), (bob, "free")):
        db.session.add(CustomEvent(event_id=f"signup-{contact.id}", account_id=site.account_id,
                                   contact_id=contact.id, source="api", name="signup",
                                   properties={"plan": plan}, occurred_at=utcnow(), received_at=utcnow()))
    db.session.commit()

    sign_in(page, server, user.email)
    page.get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Segment name").fill("Pro sign-ups")
    page.get_by_label("Rule type").select_option(label="Custom event")
    htmx_settled(page)
    page.get_by_label("Event name, as signup").fill("signup")
    preview = page.locator("#segment-preview")
    expect(preview.locator(".count")).to_have_text("2")
    page.get_by_label("Property name (optional)").fill("plan")
    page.get_by_label("Property value").fill("pro")
    expect(preview.locator(".count")).to_have_text("1")
    expect(preview).to_contain_text("ada@customer.example")
    expect(preview).to_contain_text("did signup with plan is pro at least 1 time in the last 30 days")
    page.screenshot(path="/tmp/footfall-segment-event-rule.png", full_page=True)
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("row", name="Pro sign-ups")).to_be_visible()

    page.goto(f"{server}/contacts/{ada.id}")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("signup")
    expect(timeline).to_contain_text("plan: pro")
    expect(timeline).to_contain_text("through the API")
