"""Whatever a visitor's browser, an imported file or a colleague typed is shown as text, never run:
hostile titles and URLs of page views, contact names, list and tag names, campaign names and
subjects, segment and automation names appear escaped on every page that shows them."""
from urllib.parse import quote

import pytest
from markupsafe import escape
from sqlalchemy import select

from app.automations import service as automations
from app.contacts import lists
from app.extensions import db
from app.messaging import campaigns, sending
from app.models import Email
from app.segments import service as segments
from app.tracking.cid import make_cid
from tests.conftest import HX, make_contact
from tests.integration.test_ingest import beacon, post

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
RAW_MARKUP = ("<script>alert", "<img src=x")
ESCAPED = (str(escape(SCRIPT)), str(escape(IMG)))


@pytest.fixture
def hostile(client, auth, user, site, run_jobs, drain) -> dict[str, str]:
    """An account whose every name was chosen by an attacker, sent a campaign and visited: the pages
    that show those names, by what they are."""
    contact = make_contact(site.account_id, "victim@customer.example", first_name=SCRIPT, last_name=IMG)
    hostile_list = lists.add_to_list(contact, new_name=f"{SCRIPT} list")
    tag = lists.add_tag(contact, f"{IMG} tag")
    campaign = campaigns.create_campaign(user, "email")
    campaigns.update_campaign(campaign, name=SCRIPT, subject=IMG, body="<p>Our sale</p>",
                              list_ids=[hostile_list.id])
    segment = segments.save(site.account_id, None, SCRIPT,
                            {"join": "and", "groups": [{"match": "all", "rules": [
        {"type": "tag", "tag_id": tag.id, "negate": False}]}]})
    automation = automations.create(user)
    automation.name = IMG
    sending.send_now(campaign, "https://footfall.test")
    db.session.commit()
    run_jobs()
    cid = make_cid(site.account_id, contact.id)
    for url, title in ((f"https://www.shop.example/{SCRIPT}", SCRIPT),
                       (f"https://www.shop.example/{IMG}?q={quote(SCRIPT)}", IMG)):
        assert post(client, beacon(site, u=url, t=title, c=cid)).status_code == 204
    assert drain() == 2

    outbox = db.session.scalars(select(Email.id).where(Email.account_id == site.account_id)).all()
    assert outbox, "the campaign reached the outbox"
    return {"dashboard": "/", "contacts": "/contacts/", "contact": f"/contacts/{contact.id}",
            "contact details": f"/contacts/{contact.id}/details",
            "contact form": f"/contacts/{contact.id}/edit",
            "lists": "/contacts/lists", "list members": f"/contacts/?list={hostile_list.id}",
            "list row": f"/contacts/lists/{hostile_list.id}/row",
            "list form": f"/contacts/lists/{hostile_list.id}/edit",
            "campaigns": "/campaigns/", "campaign report": f"/campaigns/{campaign.id}",
            "segments": "/segments/", "segment": f"/segments/{segment.id}", "automations": "/automations/",
            "automation": f"/automations/{automation.id}", "outbox": "/outbox/",
            **{f"outbox email {email_id}": f"/outbox/{email_id}" for email_id in outbox}}


def test_hostile_names_are_shown_as_text_on_every_page(auth, hostile):
    for url in hostile.values():
        for headers in ({}, HX):
            response = auth.client.get(url, headers=headers)
            body = response.get_data(as_text=True)
            assert response.status_code == 200, url
            assert not [markup for markup in RAW_MARKUP if markup in body], f"{url} shows raw markup"
            assert any(text in body for text in ESCAPED), f"{url} shows none of the names"


def test_a_hostile_page_view_is_escaped_in_the_timeline_and_the_dashboard(auth, hostile):
    contact_page = auth.client.get(hostile["contact"]).get_data(as_text=True)
    assert f'<span class="title">{escape(SCRIPT)}</span>' in contact_page
    assert f"https://www.shop.example/{escape(IMG)}" in contact_page
    dashboard = auth.client.get(hostile["dashboard"]).get_data(as_text=True)
    assert f"/{escape(SCRIPT)}" in dashboard and f"{escape(SCRIPT)} {escape(IMG)}" in dashboard


def test_the_campaign_report_and_outbox_escape_name_and_subject(auth, hostile):
    report = auth.client.get(hostile["campaign report"]).get_data(as_text=True)
    assert str(escape(SCRIPT)) in report and str(escape(IMG)) in report
    outbox = auth.client.get(hostile["outbox"]).get_data(as_text=True)
    assert str(escape(IMG)) in outbox
