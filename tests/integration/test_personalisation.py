"""Merge fields in messages: campaigns (email over a real SMTP server, SMS), the editor's checks,
the preview and test send as a chosen contact, and automation steps."""
import html
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.contacts import fields
from app.extensions import db
from app.messaging import personalise
from app.models import Campaign, Email, SmsMessage
from app.tracking.cid import read_cid
from tests.conftest import HX, make_contact
from tests.integration.test_campaigns import draft, follow_click, make_list
from tests.integration.test_send_to_developer import run_worker_process
from tests.support import smtp_server

BODY = ('<p>Dear {{ first_name | default: "customer" }} of {{ company }},</p>'
        '<p>Your plan: {{ plan }}. {% if vip %}Thanks for being a VIP!{% endif %}</p>'
        '<p><a href="https://www.shop.example/upgrade?plan={{ plan }}">Upgrade</a></p>')


@pytest.fixture
def plan_field(site):
    fields.create_field(site.account_id, "Plan", "choice", choices=["Free", "Pro"], default="Free")
    fields.create_field(site.account_id, "VIP", "boolean")
    db.session.commit()


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_each_recipient_gets_their_own_values_escaped_and_defaults(auth, site, plan_field, database_url,
                                                                   redis_url):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada", company="Engines & Co",
                       custom={"plan": "Pro", "vip": True})
    mallory = make_contact(site.account_id, "mallory@evil.example", first_name="<script>x</script>",
                           company="Evil\r\nBcc: all@example.org")
    bare = make_contact(site.account_id, "bare@customer.example")
    newsletter = make_list(site.account_id, "Newsletter", [ada, mallory, bare])
    campaign_id, data = draft(auth, site, [newsletter.id], body=BODY,
                              subject='Hi {{ first_name | default: "there" }}',
                              from_name="{{ company }} news")
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    with smtp_server() as (controller, handler):
        run_worker_process(database_url, redis_url, f"smtp://127.0.0.1:{controller.port}")
    received = {rcpts[0]: message for rcpts, message in handler.messages}
    assert len(received) == 3

    ada_mail = received["ada@customer.example"]
    assert ada_mail["Subject"] == "Hi Ada" and ada_mail["From"].startswith("Engines & Co news <")
    body = ada_mail.get_body(("html",)).get_content()
    assert "Dear Ada of Engines &amp; Co," in body and "Your plan: Pro." in body and "VIP!" in body
    link = next(part.split('"')[0] for part in body.split('href="')[1:] if "/c/" in part)
    landing = urlsplit(follow_click(auth.client, link))
    assert parse_qs(landing.query)["plan"] == ["Pro"]  # the link was personalised, then tagged
    assert read_cid(parse_qs(landing.query)["cid"][0]).contact_id == ada.id

    evil = received["mallory@evil.example"]
    evil_body = evil.get_body(("html",)).get_content()
    assert "&lt;script&gt;x&lt;/script&gt;" in evil_body and "<script>x" not in evil_body
    assert evil["Subject"] == "Hi <script>x</script>"  # plain text: a subject is not HTML
    assert evil["Bcc"] is None and "Evil Bcc: all@example.org news" in evil["From"]  # one line

    bare_mail = received["bare@customer.example"]
    assert bare_mail["Subject"] == "Hi there"
    bare_body = bare_mail.get_body(("html",)).get_content()
    assert "Dear customer of ," in bare_body and "Your plan: Free." in bare_body  # the field's default
    assert "VIP" not in bare_body


def test_the_web_version_shows_defaults_never_a_recipients_values(auth, site, plan_field, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada", custom={"plan": "Pro"})
    newsletter = make_list(site.account_id, "Newsletter", [ada])
    campaign_id, data = draft(auth, site, [newsletter.id], body=BODY)
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    run_jobs()
    email = db.session.scalar(select(Email).where(Email.contact_id == ada.id))
    web_link = next(part.split('"')[0] for part in email.html_body.split('href="')[1:] if "/m/" in part)
    web = page_text(auth.client.get(urlsplit(web_link).path))
    assert "Dear customer of ," in web and "Your plan: Free." in web and "Ada" not in web


@pytest.mark.parametrize("form, field, message", [
    ({"subject": "Hi {{ frist_name }}"}, "subject",
     "The subject uses {{ frist_name }}, which is not one of your contact fields"),
    ({"from_name": "{{ company | shout }}"}, "from_name", "The From name uses the unknown filter “shout”."),
    ({"body": "<p>Hello</p>\n<p>{% if vip %}VIP</p>"}, "body",
     "The message: Expected tag endif, found end of expression."),
    ({"body": "<p>Hello</p>\n<p>{% endif %}</p>"}, "body", "The message: Line 2: unexpected tag 'endif'"),
    ({"body": "<p>{{ first_name </p>"}, "body", "The message: Line 1: expected '}}'"),
    ({"body": "{% include 'secrets' %}"}, "body", "The message uses the tag “include”"),
    ({"body": "{% for i in (1..100000) %}x{% endfor %}"}, "body", "loop iteration limit reached"),
])
def test_template_errors_are_shown_in_the_editor_before_anything_is_saved(auth, site, plan_field, form,
                                                                           field, message):
    campaign_id, data = draft(auth, site, [])
    response = auth.client.post(f"/campaigns/{campaign_id}", data={**data, **form}, headers=HX)
    assert response.status_code == 422
    page = page_text(response)
    assert message in page and f'aria-describedby="{field}-error"' in page
    db.session.rollback()
    assert getattr(db.session.get(Campaign, campaign_id), field) == data[field]


def test_a_deleted_field_stops_the_send_with_a_message(auth, site, plan_field):
    ada = make_contact(site.account_id, "ada@customer.example")
    newsletter = make_list(site.account_id, "Newsletter", [ada])
    campaign_id, data = draft(auth, site, [newsletter.id], body=BODY)
    fields.delete_field(fields.get_field(site.account_id, fields.custom_fields(site.account_id)[0].id))
    db.session.commit()
    response = auth.client.post(f"/campaigns/{campaign_id}/confirm-send", data={**data, "when": "now"},
                                headers=HX)
    assert response.status_code == 422 and "uses {{ plan }}, which is not one of your contact fields" in \
        page_text(response)


def test_the_editor_offers_every_field_to_insert(auth, site, plan_field):
    campaign_id, _ = draft(auth, site, [])
    page = page_text(auth.client.get(f"/campaigns/{campaign_id}"))
    menu = page.split('id="merge-field"')[1].split("</select>")[0]
    for code in ("{{ first_name }}", "{{ company }}", "{{ birthday }}", "{{ plan }}", "{{ vip }}"):
        assert f'value="{code}"' in menu
    assert 'id="merge-field" data-insert-field="body"' in page


def test_preview_and_test_send_as_a_chosen_contact(auth, site, user, plan_field, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada", custom={"plan": "Pro"})
    campaign_id, data = draft(auth, site, [], body=BODY, subject="For {{ first_name }}")
    as_ada = page_text(auth.client.get(f"/campaigns/{campaign_id}/preview?contact=ADA@customer.example"))
    assert "Dear Ada of ," in as_ada and "Your plan: Pro." in as_ada
    web = page_text(auth.client.get(f"/campaigns/{campaign_id}/preview"))
    assert "Dear customer of ," in web
    missing = auth.client.get(f"/campaigns/{campaign_id}/preview?contact=nobody@example.org")
    assert missing.status_code == 404 and "No contact has the email address nobody@example.org" in \
        page_text(missing)

    sent = auth.client.post(f"/campaigns/{campaign_id}/test", data={**data, "test_contact": ada.email},
                            headers=HX)
    assert sent.status_code == 200
    assert f"Test sent to {user.email} with the details of ada@customer.example." in page_text(sent)
    test = db.session.scalar(select(Email).where(Email.kind == "campaign_test"))
    assert test.to_address == user.email and test.subject == "[Test] For Ada"
    assert "Dear Ada of ," in html.unescape(test.html_body)
    link = next(part.split('"')[0] for part in test.html_body.split('href="')[1:] if "/c/" in part)
    landing = urlsplit(follow_click(auth.client, link))
    # Clicking a test identifies the user's own contact, never Ada.
    assert read_cid(parse_qs(landing.query)["cid"][0]).contact_id != ada.id

    unknown = auth.client.post(f"/campaigns/{campaign_id}/test", data={**data, "test_contact": "x@y.example"},
                               headers=HX)
    assert unknown.status_code == 422
    assert "No contact has the email address x@y.example." in page_text(unknown)


def test_an_sms_campaign_is_personalised(auth, site, plan_field, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada", phone="+14155550123",
                       custom={"plan": "Pro"})
    newsletter = make_list(site.account_id, "Texts", [ada])
    response = auth.client.post("/campaigns/", data={"channel": "sms"})
    campaign_id = int(response.headers["Location"].rsplit("/", 1)[1])
    data = {"name": "Texts", "body": "Hi {{ first_name }}, your {{ plan }} plan renews soon.",
            "list_ids": [str(newsletter.id)], "tag_links": "1"}
    assert auth.client.post(f"/campaigns/{campaign_id}", data=data, headers=HX).status_code == 200
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    run_jobs()
    text = db.session.scalar(select(SmsMessage.body).where(SmsMessage.contact_id == ada.id))
    assert text.startswith("Hi Ada, your Pro plan renews soon.")


def test_automation_steps_check_and_fill_merge_fields(auth, site, plan_field):
    from app.automations import engine, service
    from app.models import Automation

    response = auth.client.post("/automations/")
    automation_id = int(response.headers["Location"].rsplit("/", 1)[1])
    automation = db.session.get(Automation, automation_id)
    step = service.add_step(automation, "email")
    db.session.commit()
    bad = auth.client.post(f"/automations/{automation_id}/steps/{step['id']}", headers=HX,
                           data={"subject": "Hi {{ nme }}", "from_name": "", "body": "<p>x</p>"})
    assert bad.status_code == 422 and "The subject uses {{ nme }}" in page_text(bad)
    good = auth.client.post(f"/automations/{automation_id}/steps/{step['id']}", headers=HX,
                            data={"subject": "Hi {{ first_name }}", "from_name": "{{ company }}",
                                  "body": "<p>Plan {{ plan }}</p>"})
    assert good.status_code == 200, page_text(good)

    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada", company="Engines",
                       custom={"plan": "Pro"})
    db.session.rollback()
    automation = db.session.get(Automation, automation_id)
    email_step = next(s for s in automation.steps if s["kind"] == "email")
    renderer_message = engine.Message(account_id=site.account_id, body=email_step["body"],
                                      subject=email_step["subject"], from_name=email_step["from_name"],
                                      from_automation=True)
    rendered = engine.Renderer(renderer_message, "https://footfall.test").email(ada)
    assert (rendered["subject"], rendered["from_name"]) == ("Hi Ada", "Engines")
    assert "Plan Pro" in rendered["html_body"]


def test_values_are_those_a_person_reads(site, plan_field):
    ada = make_contact(site.account_id, "ada@customer.example", birthday="--12-10", custom={"vip": False})
    values = personalise.Personaliser(site.account_id).values(ada)
    assert values["birthday"] == "10 December" and values["vip"] is False and values["plan"] == "Free"
    assert values["company"] is None


def test_defaults_are_typed_like_values(site):
    fields.create_field(site.account_id, "Score", "number", default="5")
    fields.create_field(site.account_id, "VIP", "boolean", default="no")
    db.session.commit()
    source = "{% if score > 3 %}big{% endif %} {% if vip %}vip{% else %}regular{% endif %}"
    personalise.check(source, fields.account_fields(site.account_id))  # compares the default 5 too
    bare = make_contact(site.account_id, "bare@customer.example")
    assert personalise.Personaliser(site.account_id).render(source, bare) == "big regular"


def test_a_from_name_that_comes_out_empty_is_the_senders_never_the_template(auth, site, run_jobs, app):
    from app.messaging import mail

    bare = make_contact(site.account_id, "bare@customer.example")
    newsletter = make_list(site.account_id, "Newsletter", [bare])
    campaign_id, data = draft(auth, site, [newsletter.id], body="<p>Hi</p>", from_name="{{ company }}")
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    run_jobs()
    email = db.session.scalar(select(Email).where(Email.contact_id == bare.id))
    assert email.from_name == ""
    sender = mail.build_message(email, "")["From"]
    sender_address = app.config["MAIL_FROM"].split("<")[-1].strip(">")
    assert "{{" not in str(sender) and str(sender).endswith(sender_address + ">")


def test_templates_cannot_grow_past_the_bounds(site):
    chain = '{{ "aaaaaaaaaa"' + ' | replace: "a", "aaaaaaaaaa"' * 9 + " | size }}"
    with pytest.raises(personalise.MergeError, match="longer than 100,000 characters"):
        personalise.check(chain, fields.account_fields(site.account_id))
    with pytest.raises(personalise.MergeError, match="too long for merge fields"):
        personalise.check("{{ first_name }}" + "x" * 100_001, fields.account_fields(site.account_id))


def test_a_template_that_cannot_be_read_goes_out_as_written(site):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada")
    personaliser = personalise.Personaliser(site.account_id)
    assert personaliser.render("Hi {{ first_name", ada) == "Hi {{ first_name"  # saved before checks
    assert personaliser.render("Hi {{ first_name }}", ada) == "Hi Ada"


def test_the_account_name_is_not_a_template(auth, site, user):
    from app.automations import engine
    from app.models import Account, AutomationRun

    account = db.session.get(Account, site.account_id)
    account.name = "Shop {% oops"
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada")
    db.session.commit()
    automation = engine_automation(auth, site)
    run = AutomationRun(account_id=site.account_id, automation_id=automation.id, contact_id=ada.id)
    db.session.add(run)
    db.session.flush()
    step = {"kind": "email", "subject": "Hi {{ first_name }}", "from_name": "", "body": "<p>Hi</p>"}
    engine._send_email(automation, run, ada, step, record_step(run))
    email = db.session.scalar(select(Email).where(Email.kind == "automation"))
    assert (email.subject, email.from_name) == ("Hi Ada", "Shop {% oops")


def engine_automation(auth, site):
    from app.models import Automation

    response = auth.client.post("/automations/")
    return db.session.get(Automation, int(response.headers["Location"].rsplit("/", 1)[1]))


def record_step(run) -> int:
    from app.models import AutomationStepRun

    record = AutomationStepRun(run_id=run.id, step_id="s1")
    db.session.add(record)
    db.session.flush()
    return record.id
