"""Email campaigns: compose, send to lists in batches through a real worker and a real SMTP server,
tagged links, click redirect, unsubscribe, permanent web view."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app.contacts import lists
from app.extensions import db
from app.messaging.clicks import CLICKS
from app.models import Campaign, Contact, ContactList, Email, LinkClick
from app.models.types import utcnow
from app.queues import get_redis
from app.tracking.cid import read_cid
from tests.conftest import HX, make_contact
from tests.integration.test_send_to_developer import run_worker_process
from tests.support import smtp_server

BODY = ('<h1>Hello</h1><p>See <a href="https://www.shop.example/pricing?plan=pro#faq">our prices</a>, '
        '<a href="https://elsewhere.example/">a friend</a> and '
        '<a href="mailto:hi@shop.example">write us</a>.</p>')


def make_list(account_id, name, contacts):
    item = ContactList(account_id=account_id, name=name)
    db.session.add(item)
    db.session.flush()
    for contact in contacts:
        contact.lists.append(item)
    db.session.commit()
    return item


def draft(auth, site, list_ids, body=BODY, **fields):
    response = auth.client.post("/campaigns/", data={"channel": "email"})
    campaign_id = int(response.headers["Location"].rsplit("/", 1)[1])
    data = {"name": "Fall sale", "subject": "Our fall sale", "from_name": "Shop", "body": body,
            "list_ids": [str(i) for i in list_ids], "tag_links": "1", **fields}
    saved = auth.client.post(f"/campaigns/{campaign_id}", data=data, headers=HX)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    return campaign_id, data


def follow_click(client, url):
    """The landing address of a click-redirect link."""
    path = urlsplit(url).path
    response = client.get(path)
    assert response.status_code == 302
    return response.headers["Location"]


def test_a_campaign_to_50_contacts_over_smtp(auth, site, client, database_url, redis_url):
    people = [make_contact(site.account_id, f"person{n:02d}@customer.example", first_name=f"P{n}")
              for n in range(50)]
    people[7].email_status = "unsubscribed"
    people[8].email_status = "unsubscribed"
    newsletter = make_list(site.account_id, "Newsletter", people)
    campaign_id, data = draft(auth, site, [newsletter.id])
    assert auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX) \
        .headers["HX-Redirect"] == f"/campaigns/{campaign_id}"
    with smtp_server() as (controller, handler):
        run_worker_process(database_url, redis_url, f"smtp://127.0.0.1:{controller.port}")
    received = {rcpts[0]: message for rcpts, message in handler.messages}
    assert len(handler.messages) == 48
    assert "person07@customer.example" not in received and "person08@customer.example" not in received
    seen_tokens = set()
    for address, message in received.items():
        contact = next(p for p in people if p.email == address)
        assert message["Subject"] == "Our fall sale" and message["From"].startswith("Shop <")
        assert str(message["List-Unsubscribe"]).strip().startswith("<https://footfall.test/u/")
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        html_links = re.findall(r'href="(https://footfall\.test/c/[^"]+)"', html)
        text_links = re.findall(r"\((https://footfall\.test/c/[^)]+)\)", text)
        assert len(html_links) == 2 and html_links == text_links  # the same links in both parts
        landing = follow_click(client, html_links[0])
        assert (landing.startswith("https://www.shop.example/pricing?plan=pro&cid=")
                and landing.endswith("#faq"))
        token = parse_qs(urlsplit(landing).query)["cid"][0]
        claims = read_cid(token)
        assert (claims.contact_id, claims.account_id, claims.message_id) == (contact.id, site.account_id,
                                                                             campaign_id)
        seen_tokens.add(token)
        assert follow_click(client, html_links[1]) == "https://elsewhere.example/"  # other sites: no cid
        assert 'href="mailto:hi@shop.example"' in html
    assert len(seen_tokens) == 48
    db.session.rollback()
    campaign = db.session.get(Campaign, campaign_id)
    assert (campaign.status, campaign.recipients) == ("sent", 48)


def test_a_retried_batch_never_sends_twice(auth, site, run_jobs, app):
    people = [make_contact(site.account_id, f"p{n}@customer.example") for n in range(5)]
    item = make_list(site.account_id, "All", people)
    campaign_id, data = draft(auth, site, [item.id])
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    run_jobs()
    from app.messaging.sending import send_email_batch
    assert send_email_batch(campaign_id, [p.id for p in people], "https://footfall.test",
                            final_attempt=True) == 0
    assert db.session.scalar(select(func.count()).select_from(Email)
                             .where(Email.campaign_id == campaign_id)) == 5
    page = auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Sent" in page and "(to the outbox)" in page


def test_clicks_are_recorded_by_the_worker(auth, site, contact, client, drain, app):
    from app.messaging.rendering import Message, Renderer
    campaign = Campaign(account_id=site.account_id, channel="email", name="c", subject="s", body=BODY,
                        status="sent", started_at=utcnow())
    db.session.add(campaign)
    db.session.commit()
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    link = renderer.link("https://www.shop.example/x", contact, "email")
    assert follow_click(client, link).startswith("https://www.shop.example/x?cid=")
    assert db.session.scalar(select(LinkClick)) is None  # nothing written in the request
    CLICKS.drain(get_redis())
    db.session.rollback()
    click = db.session.scalar(select(LinkClick))
    assert (click.contact_id, click.campaign_id) == (contact.id, campaign.id)


@pytest.mark.parametrize("path",
                         ["/c/garbage", "/c/" + "A" * 300, "/s/nosuch", "/u/tampered.token", "/m/999"])
def test_bad_tokens_get_a_clear_404_and_no_redirect(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "This link is not valid" in response.get_data(as_text=True)
    assert "Location" not in response.headers


def test_a_tampered_click_token_is_refused(auth, site, contact, client):
    from app.messaging.rendering import Message, Renderer
    campaign = Campaign(account_id=site.account_id, channel="email", name="c", subject="s", body=BODY,
                        status="sent", started_at=utcnow())
    db.session.add(campaign)
    db.session.commit()
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    link = renderer.link("https://www.shop.example/x", contact, "email")
    token = urlsplit(link).path.rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(f"/c/{forged}").status_code == 404


def test_unsubscribe_link(site, contact, client):
    from app.messaging.rendering import Message, Renderer
    campaign = Campaign(account_id=site.account_id, channel="email", name="c", subject="s", body=BODY)
    db.session.add(campaign)
    db.session.commit()
    url = Renderer(Message.of_campaign(campaign), "https://footfall.test").unsubscribe_url(contact, "email")
    path = urlsplit(url).path
    assert "Unsubscribe" in client.get(path).get_data(as_text=True)
    done = client.post(path)  # one-click, from mail apps: no CSRF token
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Contact, contact.id).email_status == "unsubscribed"


def test_an_erased_contacts_unsubscribe_link_does_not_unsubscribe_whoever_gets_their_id(site, contact,
                                                                                        client):
    from datetime import timedelta
    from app.messaging.rendering import Message, Renderer
    from app.models.types import utcnow
    from app.privacy import erase_contact
    campaign = Campaign(account_id=site.account_id, channel="email", name="c", subject="s", body=BODY)
    db.session.add(campaign)
    db.session.commit()
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    path = urlsplit(renderer.unsubscribe_url(contact, "email")).path
    erased_id = contact.id
    erase_contact(site.account_id, erased_id, erased_by_user_id=None)
    db.session.commit()
    # A new contact gets the same id (SQLite reuses the highest id), later than the link was made.
    newcomer = make_contact(site.account_id, "grace@navy.example", id=erased_id,
                            created_at=utcnow() + timedelta(seconds=30))
    assert client.post(path).status_code == 200
    db.session.rollback()
    assert db.session.get(Contact, newcomer.id).email_status == "subscribed"


def test_the_permanent_url_carries_no_personal_cid(auth, site, contact, client, run_jobs):
    item = make_list(site.account_id, "One", [contact])
    campaign_id, data = draft(auth, site, [item.id], body=BODY.replace("plan=pro", "plan=pro&cid=author"))
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    run_jobs()
    report = auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    web_url = re.search(r'href="(https://footfall\.test/m/[^"]+)"', report).group(1)
    page = client.get(urlsplit(web_url).path)
    assert page.status_code == 200 and page.headers["Content-Security-Policy"].startswith("sandbox")
    html = page.get_data(as_text=True)
    assert "our prices" in html and "/c/" not in html
    email = db.session.scalar(select(Email).where(Email.campaign_id == campaign_id))
    assert web_url in email.html_body  # the message links to its web version


@pytest.mark.parametrize("fields, message", [
    ({"subject": ""}, "Write a subject"),
    ({"body": ""}, "Write the message"),
    ({"list_ids": []}, "Choose at least one list or segment"),
    ({"when": "later", "scheduled_at": "2001-01-01T10:00"}, "in the future"),
    ({"when": "later", "scheduled_at": "tomorrow"}, "YYYY-MM-DD"),
])
def test_sending_an_incomplete_campaign_rerenders_with_the_error(auth, site, contact, fields, message):
    item = make_list(site.account_id, "One", [contact])
    campaign_id, data = draft(auth, site, [item.id])
    response = auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now", **fields},
                                headers=HX)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Campaign, campaign_id).status == "draft"


def test_scheduling_and_the_sweep(auth, site, contact, run_jobs):
    from datetime import timedelta
    from app.messaging.sending import start_due_campaigns
    from app.models.types import utcnow
    item = make_list(site.account_id, "One", [contact])
    campaign_id, data = draft(auth, site, [item.id])
    later = (utcnow() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "later", "scheduled_at": later},
                     headers=HX)
    db.session.rollback()
    assert db.session.get(Campaign, campaign_id).status == "scheduled"
    assert start_due_campaigns("https://footfall.test") == []
    db.session.get(Campaign, campaign_id).scheduled_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert start_due_campaigns("https://footfall.test") == [campaign_id]
    run_jobs()
    assert db.session.get(Campaign, campaign_id).status == "sent"


def test_a_campaign_whose_batch_jobs_were_lost_is_resumed_by_the_sweep(auth, site, run_jobs, app):
    from datetime import timedelta
    from app.messaging.sending import resume_stalled_campaigns, send_email_batch, start_campaign
    from app.models.types import utcnow
    people = [make_contact(site.account_id, f"p{n}@customer.example") for n in range(5)]
    campaign_id, data = draft(auth, site, [make_list(site.account_id, "All", people).id])
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    db.session.rollback()
    assert start_campaign(campaign_id, "https://footfall.test") == 5  # the start job: one batch enqueued
    get_redis().flushdb()  # Redis loses its queues (no append-only file)...
    assert send_email_batch(campaign_id, [people[0].id, people[1].id], "https://footfall.test",
                            final_attempt=False) == 2  # ...after two people got the email
    campaign = db.session.get(Campaign, campaign_id)
    assert campaign.status == "sending"

    assert resume_stalled_campaigns("https://footfall.test") == []  # too soon to call it stalled
    late = make_contact(site.account_id, "late@customer.example")  # joins after the campaign started
    lists.add_to_list(late, list_id=campaign.lists[0].id)
    db.session.commit()
    two_minutes_later = utcnow() + timedelta(minutes=2)
    assert resume_stalled_campaigns("https://footfall.test", two_minutes_later) == [campaign_id]
    assert resume_stalled_campaigns("https://footfall.test", two_minutes_later) == []  # its batch is queued
    run_jobs()
    db.session.rollback()
    sent_to = db.session.scalars(select(Email.contact_id).where(Email.campaign_id == campaign_id)).all()
    assert sorted(sent_to) == sorted(person.id for person in people)  # each once, nobody new
    assert db.session.get(Campaign, campaign_id).status == "sent"


def test_with_the_mail_server_down_a_campaign_is_retried_with_backoff(auth, site, run_jobs, app):
    from datetime import datetime, timezone
    from rq.registry import ScheduledJobRegistry
    from app.queues import MESSAGES
    from tests.support import free_port
    people = [make_contact(site.account_id, f"p{n}@customer.example") for n in range(3)]
    campaign_id, data = draft(auth, site, [make_list(site.account_id, "All", people).id])
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?timeout=2"  # nothing listens there
    app.config["MAIL_RETRY_DELAYS"] = [10, 60, 300]
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    run_jobs()  # the first attempt fails; the next one waits
    report = auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "<dt>Waiting</dt><dd>3</dd>" in report and "Sending" in report
    retry_at = ScheduledJobRegistry(MESSAGES, connection=get_redis()).get_scheduled_time(
        f"campaign-{campaign_id}-batch-0")
    assert 8 <= (retry_at - datetime.now(timezone.utc)).total_seconds() <= 10
    emails = db.session.scalars(select(Email).where(Email.campaign_id == campaign_id)).all()
    assert {(email.status, email.attempts) for email in emails} == {("retrying", 1)}
    assert all("ConnectionRefusedError" in email.error for email in emails)


def test_with_the_mail_server_down_a_campaign_ends_failed_with_the_reason(auth, site, run_jobs, app):
    from tests.support import free_port
    people = [make_contact(site.account_id, f"p{n}@customer.example") for n in range(3)]
    campaign_id, data = draft(auth, site, [make_list(site.account_id, "All", people).id])
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?timeout=2"
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    run_jobs()  # every attempt (MAIL_RETRY_DELAYS is 0,0,0 here) fails
    emails = db.session.scalars(select(Email).where(Email.campaign_id == campaign_id)).all()
    assert {(email.status, email.attempts) for email in emails} == {("failed", 4)}
    report = auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert re.search(r'<dt>Failed</dt><dd>3\s*<ul class="failures"><li>3: ConnectionRefusedError', report)
    assert db.session.get(Campaign, campaign_id).status == "sent"  # done: every recipient handled


@pytest.mark.parametrize("field, value, message", [
    ("subject", "Our fall sale\r\nBcc: everyone@example.com", "The subject must be on one line"),
    ("subject", "Our fall sale\n", "The subject must be on one line"),
    ("from_name", "Shop\rX-Spam: yes", "The From name must be on one line"),
    ("from_name", "Shop\u2028Team", "The From name must be on one line"),
])
def test_a_line_break_in_the_subject_or_from_name_is_refused_with_a_message(auth, site, field, value,
                                                                            message):
    campaign_id, data = draft(auth, site, [])
    response = auth.client.post(f"/campaigns/{campaign_id}", data={**data, field: value}, headers=HX)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    saved = db.session.get(Campaign, campaign_id)
    assert (saved.subject, saved.from_name) == ("Our fall sale", "Shop")  # the draft as it was


def test_send_test_goes_to_me(auth, site, user, run_jobs):
    campaign_id, data = draft(auth, site, [])
    response = auth.client.post(f"/campaigns/{campaign_id}/test", data=data, headers=HX)
    assert f"Test sent to {user.email}." in response.get_data(as_text=True)
    run_jobs()
    email = db.session.scalar(select(Email).where(Email.kind == "campaign_test"))
    assert email.subject == "[Test] Our fall sale" and email.to_address == user.email


def test_campaigns_are_private_to_the_account(auth, site, intruder):
    campaign_id, _ = draft(auth, site, [])
    assert intruder.get(f"/campaigns/{campaign_id}").status_code == 404
    assert intruder.post(f"/campaigns/{campaign_id}", data={"name": "x"}).status_code == 404
    assert intruder.get(f"/campaigns/{campaign_id}/preview").status_code == 404
    assert "Fall sale" not in intruder.get("/campaigns/").get_data(as_text=True)


def test_the_account_can_tag_all_links(auth, site, contact, client):
    from app.messaging.rendering import Message, Renderer
    saved = auth.client.post("/settings/tracking/link-tagging", data={"tag_all_links": "1"}, headers=HX)
    assert "Saved." in saved.get_data(as_text=True)
    campaign = Campaign(account_id=site.account_id, channel="email", name="c", subject="s", body=BODY,
                        status="sent", started_at=utcnow())
    db.session.add(campaign)
    db.session.commit()
    db.session.expire_all()
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    link = renderer.link("https://elsewhere.example/a", contact, "email")
    assert "?cid=" in follow_click(client, link)
    campaign.tag_links = False  # a campaign can opt out
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    link = renderer.link("https://www.shop.example/a", contact, "email")
    assert follow_click(client, link) == "https://www.shop.example/a"


def test_the_send_confirmation_states_what_is_on_screen_not_the_saved_draft(auth, site, contact):
    grace = make_contact(site.account_id, "grace@navy.example")
    one, two = make_list(site.account_id, "One", [contact]), make_list(site.account_id, "Two",
                                                                       [contact, grace])
    campaign_id, data = draft(auth, site, [])  # saved with no list at all
    confirm = auth.client.post(f"/campaigns/{campaign_id}/confirm-send",
                               data={**data, "name": "Winter sale", "list_ids": [str(one.id)]}, headers=HX)
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "<dialog" in body
    assert "Send “Winter sale”?" in body and "It goes to 1 contact now." in body
    both = auth.client.post(f"/campaigns/{campaign_id}/confirm-send",
                            data={**data, "list_ids": [str(one.id), str(two.id)]}, headers=HX)
    assert "It goes to 2 contacts now." in both.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Campaign, campaign_id).status == "draft"  # nothing sent by asking


def test_the_confirmation_of_a_schedule_names_the_time_and_errors_come_first(auth, site, contact):
    from datetime import timedelta
    from app.models.types import utcnow
    item = make_list(site.account_id, "One", [contact])
    campaign_id, data = draft(auth, site, [item.id])
    later = utcnow() + timedelta(days=1)
    confirm = auth.client.post(f"/campaigns/{campaign_id}/confirm-send", headers=HX, data={
        **data, "when": "later", "scheduled_at": later.strftime("%Y-%m-%dT%H:%M")})
    body = confirm.get_data(as_text=True)
    assert f"It goes out at <time datetime=\"{later.strftime('%Y-%m-%dT%H:%M')}" in body
    assert "Yes, schedule it" in body
    bad = auth.client.post(f"/campaigns/{campaign_id}/confirm-send", data={**data, "subject": ""}, headers=HX)
    assert bad.status_code == 422 and "<dialog" not in bad.get_data(as_text=True)
    assert "Write a subject before sending." in bad.get_data(as_text=True)


def test_send_now_lands_on_the_report_which_follows_the_sending(auth, site, contact, run_jobs):
    item = make_list(site.account_id, "One", [contact])
    campaign_id, data = draft(auth, site, [item.id])
    sent = auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    assert sent.headers["HX-Redirect"] == f"/campaigns/{campaign_id}"
    report = auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Sending now." in report and "Starting" in report and 'hx-trigger="every 2s"' in report
    assert "Scheduled for" not in report and "Cancel the schedule" not in report
    assert auth.client.post(f"/campaigns/{campaign_id}", data=data, headers=HX).status_code == 422  # no edits
    run_jobs()
    done = auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert ">Sent<" in done and "every 2s" not in done and "<dt>Delivered</dt><dd>1" in done


def test_a_campaign_scheduled_for_later_can_still_be_changed(auth, site, contact):
    from datetime import timedelta
    from app.models.types import utcnow
    item = make_list(site.account_id, "One", [contact])
    campaign_id, data = draft(auth, site, [item.id])
    later = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "later", "scheduled_at": later},
                     headers=HX)
    editor = auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Scheduled for" in editor and "Cancel the schedule" in editor
    changed = auth.client.post(f"/campaigns/{campaign_id}", data={**data, "subject": "New subject"},
                               headers=HX)
    assert changed.status_code == 200
    db.session.rollback()
    campaign = db.session.get(Campaign, campaign_id)
    assert (campaign.status, campaign.subject) == ("scheduled", "New subject")


def test_a_campaign_the_start_job_took_can_no_longer_be_changed_or_unscheduled(auth, site, contact):
    from datetime import timedelta
    from app.messaging.sending import start_campaign
    from app.models.types import utcnow
    item = make_list(site.account_id, "One", [contact])
    campaign_id, data = draft(auth, site, [item.id])
    later = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "later", "scheduled_at": later},
                     headers=HX)
    db.session.get(Campaign, campaign_id).scheduled_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    # The editor was open before the time came; the start job takes the campaign meanwhile.
    assert start_campaign(campaign_id, "https://footfall.test") == 1
    changed = auth.client.post(f"/campaigns/{campaign_id}", data={**data, "subject": "Changed"}, headers=HX)
    assert changed.status_code == 422 and "can no longer be changed" in changed.get_data(as_text=True)
    back = auth.client.post(f"/campaigns/{campaign_id}/unschedule", headers=HX)
    assert back.status_code == 204
    db.session.rollback()
    campaign = db.session.get(Campaign, campaign_id)
    assert (campaign.status, campaign.subject) == ("sending", "Our fall sale")  # not sent a second time
    assert "Too late to cancel" in auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)


def test_a_scheduled_campaign_must_stay_ready_to_send(auth, site, contact):
    from datetime import timedelta
    from app.models.types import utcnow
    item = make_list(site.account_id, "One", [contact])
    campaign_id, data = draft(auth, site, [item.id])
    later = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "later", "scheduled_at": later},
                     headers=HX)
    emptied = auth.client.post(f"/campaigns/{campaign_id}", data={**data, "subject": ""}, headers=HX)
    assert emptied.status_code == 422 and "Write a subject before sending." in emptied.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Campaign, campaign_id).subject == "Our fall sale"


def test_a_refused_draft_shows_what_was_typed_without_storing_it(auth, site):
    """Bad input re-renders the editor with it, on every database: a subject longer than its
    column, shown back beside another field's error, is never flushed."""
    campaign_id, data = draft(auth, site, [])
    typed = {**data, "subject": "S" * 400, "from_name": "Shop\nBcc: x"}
    for path in ("", "/confirm-send", "/send", "/test"):
        refused = auth.client.post(f"/campaigns/{campaign_id}{path}", data=typed, headers=HX)
        assert refused.status_code == 422 and "must be on one line" in refused.get_data(as_text=True), path
        assert "S" * 400 in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).subject == "Our fall sale"
