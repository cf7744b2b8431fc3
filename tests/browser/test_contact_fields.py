"""Contact fields in the browser: add one in Settings, import a CSV whose columns are matched to
fields (one made new on the way), edit the values on the contact's page, and build a segment on them."""
import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_segment_builder import htmx_settled
from tests.browser.test_tracking_wizard import sign_in

pytestmark = pytest.mark.browser

CSV = ("Email,First name,Plan,Shoe size\n"
       "ada@customer.example,Ada,Pro,38\n"
       "grace@navy.example,Grace,Team,41\n"
       "alan@bletchley.example,Alan,Gold,44\n")


def test_add_a_field_import_into_it_edit_it_and_segment_on_it(page: Page, server, user, run_jobs):
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Contact fields").click()
    page.get_by_label("Name").fill("Plan")
    page.get_by_label("Kind of value").select_option(label="Choice from a list")
    page.get_by_label("Choices, one a line").fill("Free\nPro\nTeam")
    page.get_by_role("button", name="Add field").click()
    expect(page.get_by_text("Field Plan added: messages use it as {{ plan }}.")).to_be_visible()
    expect(page.locator("#field-table")).to_contain_text("Choice from a list: Free, Pro, Team")
    page.screenshot(path="/tmp/footfall-contact-fields.png", full_page=True)

    page.get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": CSV.encode()}])
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Match the columns of people.csv")).to_be_visible()
    expect(page.get_by_label("Plan")).to_have_value("plan")
    expect(page.get_by_label("Shoe size")).to_have_value("")  # no field of that name yet
    expect(page.locator("#mapping-table")).to_contain_text("grace@navy.example")
    page.get_by_label("Shoe size").select_option(label="A new field: number")
    page.screenshot(path="/tmp/footfall-import-columns.png", full_page=True)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-status")).to_be_visible()  # the import is queued: its job can run
    run_jobs()
    expect(page.locator("#import-status")).to_contain_text("2 imported, 0 updated, 1 skipped", timeout=10_000)
    expect(page.locator("#import-status")).to_contain_text(
        "Row 4: Plan: “Gold” is not one of the choices: Free, Pro, Team.")

    page.get_by_role("link", name="See contacts").click()
    page.get_by_role("link", name="ada@customer.example").click()
    details = page.locator("#contact-details")
    expect(details).to_contain_text("Pro")
    expect(details).to_contain_text("38")
    details.get_by_role("button", name="Edit").click()
    # The form swapped in moves the focus to its first field: typing before then would land there.
    expect(page.get_by_label("Email", exact=True)).to_be_focused()
    htmx_settled(page)
    page.get_by_label("Birthday").fill("31-12")
    page.get_by_label("Shoe size").fill("thirty-nine")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Shoe size: “thirty-nine” is not a number.")).to_be_visible()
    expect(page.get_by_text("Birthday: “31-12” is not a date")).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_be_focused()  # (the form drawn again, focused)
    htmx_settled(page)
    page.get_by_label("Birthday").fill("12-31")
    page.get_by_label("Shoe size").fill("39")
    page.get_by_label("Plan").select_option("Team")
    page.get_by_role("button", name="Save").click()
    expect(details).to_contain_text("31 December")
    expect(details).to_contain_text("39")
    expect(details.get_by_role("status")).to_have_text("Saved.")
    page.screenshot(path="/tmp/footfall-contact-with-fields.png", full_page=True)

    page.get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Segment name").fill("Team plan")
    page.locator("select[name='groups-0-rules-0-type']").select_option("field")
    htmx_settled(page)
    page.get_by_label("Contact field").select_option(label="Plan")
    htmx_settled(page)
    page.get_by_label("Choices").select_option(["Team"])
    preview = page.locator("#segment-preview")
    expect(preview.locator(".count")).to_have_text("2")
    expect(preview).to_contain_text("Plan is any of Team")
    page.get_by_label("Contact field").select_option(label="Shoe size")
    htmx_settled(page)
    page.get_by_label("How to compare the field").select_option(label="is more than")
    htmx_settled(page)
    page.get_by_label("Number", exact=True).fill("40")
    expect(preview.locator(".count")).to_have_text("1")
    expect(preview).to_contain_text("grace@navy.example")
    page.screenshot(path="/tmp/footfall-segment-field-rule.png", full_page=True)


def test_merge_fields_from_the_menu_checked_and_previewed_as_a_contact(page: Page, server, site, user):
    from tests.conftest import make_contact

    make_contact(site.account_id, "ada@customer.example", first_name="Ada", company="Analytical Engines")
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("button", name="New email").click()
    page.get_by_label("Campaign name").fill("Hello")
    subject = page.get_by_label("Subject")
    subject.fill("News for ")
    subject.press("End")
    page.get_by_label("Insert a field").select_option(label="First name — {{ first_name }}")
    expect(subject).to_have_value("News for {{ first_name }}")
    body = page.get_by_label("HTML body")
    body.fill("<p>Hello {{ frist_name }}</p>")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#body-error")).to_contain_text(
        "The message uses {{ frist_name }}, which is not one of your contact fields")
    expect(page.get_by_label("Campaign name")).to_have_value("Hello")  # what was typed stays
    expect(subject).to_have_value("News for {{ first_name }}")
    body.fill("<p>Hello  at {{ company | default: 'your company' }}</p>")
    body.focus()
    body.evaluate("area => area.setSelectionRange(9, 9)")  # the caret after "<p>Hello "
    page.get_by_label("Insert a field").select_option(label="First name — {{ first_name }}")
    expect(body).to_have_value("<p>Hello {{ first_name }} at {{ company | default: 'your company' }}</p>")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

    frame = page.frame_locator("#preview-frame")
    expect(frame.locator("body")).to_contain_text("Hello at your company")
    page.get_by_label("Preview as").fill("ada@customer.example")
    page.get_by_role("button", name="Show").click()
    expect(frame.locator("body")).to_contain_text("Hello Ada at Analytical Engines")
    page.screenshot(path="/tmp/footfall-merge-fields.png", full_page=True)
