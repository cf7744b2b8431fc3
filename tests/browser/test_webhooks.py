"""Webhooks in the browser: add one in Settings → Webhooks with its events, copy the secret shown
once, watch a delivery arrive at a real receiver in its log, send it again, pause and delete it."""

import pytest
from playwright.sync_api import Page, expect

from app.queues import get_redis
from app.tracking import custom_events, events
from app.tracking.ingest import push_event
from tests.browser.test_tracking_wizard import sign_in
from tests.conftest import make_contact
from tests.integration.test_path_actions import _signed
from tests.support import webhook_receiver

pytestmark = pytest.mark.browser


def test_add_watch_send_again_pause_and_delete_a_webhook(page: Page, server, site, user, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example")
    sign_in(page, server, user.email)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Webhooks").click()
    with webhook_receiver() as (url, received):
        page.get_by_label("Receiver's address (https://…)").fill("ftp://nowhere.example/")
        page.get_by_label("event.custom").check()
        page.get_by_role("button", name="Add webhook").click()
        expect(page.get_by_role("alert")).to_contain_text("https://")
        expect(page.get_by_label("event.custom")).to_be_checked()  # nothing lost
        page.get_by_label("Receiver's address (https://…)").fill(f"{url}/hooks")
        page.get_by_label("Description (optional)").fill("The CRM")
        page.get_by_role("button", name="Add webhook").click()
        secret_input = page.get_by_label("Signing secret")
        expect(secret_input).to_be_focused()
        secret = secret_input.input_value()
        assert secret.startswith("whsec_")
        page.screenshot(path="/tmp/footfall-webhooks.png", full_page=True)

        push_event(
            get_redis(),
            custom_events.api_record(site.account_id, ada.id, "signup", {"plan": "pro"}, None, "signup-1"),
        )
        events.drain(get_redis())
        run_jobs()
        assert len(received) == 1 and _signed(received[0][1], received[0][2], secret)
        page.get_by_role("link", name=f"{url}/hooks").click()
        log = page.locator("#delivery-table")
        expect(log).to_contain_text("event.custom")
        expect(log).to_contain_text("Delivered")
        expect(log).to_contain_text("200")
        page.screenshot(path="/tmp/footfall-webhook-log.png", full_page=True)
        page.get_by_role("button", name="Send evt_").click()
        expect(page.get_by_text("again.")).to_be_visible()
        run_jobs()
        assert len(received) == 2 and received.bodies()[0]["id"] == received.bodies()[1]["id"]

    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".badge").first).to_have_text("Paused")
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this webhook?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Yes, delete it").click()
    expect(page.get_by_text(f"Deleted the webhook to {url}/hooks.")).to_be_visible()
    expect(page.get_by_text("No webhooks yet.")).to_be_visible()
