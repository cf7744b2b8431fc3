"""API keys in the browser: create one in Settings → API, copy it from the page shown once, use it
against the API, read the reference, and revoke it from the keyboard-usable dialog."""
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_tracking_wizard import sign_in

pytestmark = pytest.mark.browser


def status_with(server: str, secret: str) -> int:
    request = urllib.request.Request(f"{server}/api/v1/contacts",
                                     headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_create_use_and_revoke_a_key(page: Page, server, user):
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="API", exact=True).click()
    page.get_by_label("Name").fill("Shop")
    page.get_by_label("Read and write").check()
    page.get_by_role("button", name="Create key").click()
    secret_input = page.get_by_label("API key (read and write)")
    expect(secret_input).to_be_focused()  # ready to copy
    secret = secret_input.input_value()
    assert secret.startswith("ff_")
    expect(page.locator("#key-table")).to_contain_text("Never")
    page.screenshot(path="/tmp/footfall-api-keys.png", full_page=True)
    assert status_with(server, secret) == 200

    page.get_by_role("link", name="REST API").click()
    expect(page.get_by_role("heading", name="Footfall API reference")).to_be_visible()
    expect(page.locator("#tag-1")).to_contain_text("POST /contacts/upsert")
    page.locator("#api_list_contacts_contacts_get").screenshot(path="/tmp/footfall-api-reference.png")
    page.goto(f"{server}/settings/api")
    expect(page.locator("#new-key")).to_have_count(0)  # shown once
    page.get_by_role("button", name="Revoke Shop").click()
    dialog = page.get_by_role("dialog", name="Revoke the key Shop?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Yes, revoke the key")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Revoked the key Shop.")).to_be_visible()
    assert status_with(server, secret) == 401
