"""Privacy: a contact's data export, their erasure (what deleting a contact does), and old links
of an erased contact identifying nobody, even once a new contact gets their id; cid key rotation."""
import logging
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

from sqlalchemy import func, select

from app import create_app, privacy
from app.contacts import lists, people
from app.extensions import db
from app.messaging.clicks import CLICKS
from app.messaging.rendering import Message, Renderer
from app.models import (Automation, AutomationRun, AutomationStepRun, Campaign, ContactImport, CustomEvent,
                        Email, IdempotentRequest, LinkClick, PageView, Segment, SegmentMembershipChange,
                        SmsMessage, WebhookDelivery, segment_members)
from app.models.types import utcnow
from app.queues import get_redis
from app.tracking import cid as cid_module
from app.tracking import events
from app.tracking.cid import CidClaims, CidCodec, derive_key, encode_key, make_cid, new_key, parse_keys
from tests.conftest import base_config, make_contact
from tests.integration.test_contacts import import_id_of, upload
from tests.integration.test_ingest import beacon, post

DAY = timedelta(days=1)
PRICING = "https://www.shop.example/pricing?utm_source=news"
PUBLIC = "https://footfall.test"


def visit(client, site, token, url=PRICING, visitor="visitor-0001"):
    assert post(client, beacon(site, c=token, u=url, t="Pricing", v=visitor)).status_code == 204


def page_view_contacts() -> list[int | None]:
    db.session.rollback()
    return list(db.session.scalars(select(PageView.contact_id).order_by(PageView.id)))


def click(client, link: str) -> None:
    """Follow a click-redirect link, then store the click as the worker does."""
    assert client.get(urlsplit(link).path).status_code == 302
    CLICKS.drain(get_redis())
    db.session.rollback()


def last_click() -> LinkClick:
    return db.session.scalar(select(LinkClick).order_by(LinkClick.id.desc()))


def erase(auth, contact) -> int:
    """Erase a contact through their page's dialog; their id, which the test's session forgets."""
    contact_id = contact.id
    assert auth.client.post(f"/contacts/{contact_id}/delete").status_code == 302
    db.session.expunge(contact)
    return contact_id


def same_id(row_id: int) -> dict:
    """SQLite gives a new row the highest id a deleted one had; PostgreSQL's sequences never do,
    so there the reuse is forced."""
    return {} if db.engine.dialect.name == "sqlite" else {"id": row_id}


def history(site, contact, when=None) -> dict:
    """A contact with something in every place Footfall keeps data about them."""
    when = when or utcnow()
    account_id = site.account_id
    lists.add_to_list(contact, new_name="Newsletter")
    lists.add_tag(contact, "VIP")
    segment = db.session.scalar(select(Segment).where(Segment.account_id == account_id)) or \
        Segment(account_id=account_id, name="Hot leads", rules={"join": "and", "groups": []})
    db.session.add(segment)
    db.session.flush()
    db.session.execute(segment_members.insert().values(segment_id=segment.id, contact_id=contact.id))
    db.session.add(SegmentMembershipChange(account_id=account_id, segment_id=segment.id,
                                           contact_id=contact.id, change="joined", changed_at=when))
    campaign = db.session.scalar(select(Campaign).where(Campaign.account_id == account_id)) or \
        Campaign(account_id=account_id, name="Fall sale", subject="Our fall sale", status="sent",
                 started_at=when)
    automation = db.session.scalar(select(Automation).where(Automation.account_id == account_id)) or \
        Automation(account_id=account_id, name="Welcome", trigger={"type": "tagged"}, steps=[])
    db.session.add_all([campaign, automation])
    db.session.flush()
    campaign_email = Email(account_id=account_id, campaign_id=campaign.id, contact_id=contact.id,
                           kind="campaign",
                           to_address=contact.email, subject="Our fall sale", text_body="", html_body="",
                           status="sent", delivered_at=when)
    welcome = Email(account_id=account_id, contact_id=contact.id, kind="automation", to_address=contact.email,
                    subject="Welcome aboard", text_body="", html_body="", status="outbox", delivered_at=when)
    text = SmsMessage(account_id=account_id, contact_id=contact.id, to_number="+14155550123",
                      body="Our sale ends today", status="outbox")
    run = AutomationRun(account_id=account_id, automation_id=automation.id, contact_id=contact.id,
                        status="completed", entered_at=when, finished_at=when)
    db.session.add_all([campaign_email, welcome, text, run])
    db.session.flush()
    db.session.add_all([
        AutomationStepRun(run_id=run.id, step_id="welcome", email_id=welcome.id, outcome="sent"),
        AutomationStepRun(run_id=run.id, step_id="reminder", sms_id=text.id, outcome="sent"),
        WebhookDelivery(account_id=account_id, event_id=f"evt_{contact.id}", url="https://hooks.example/",
                        secret="s", payload=f'{{"email": "{contact.email}"}}', contact_id=contact.id),
        CustomEvent(event_id=f"signup-{contact.id}", account_id=account_id, contact_id=contact.id,
                    source="api", name="signup", properties={"plan": "pro"}, occurred_at=when,
                    received_at=when),
        IdempotentRequest(account_id=account_id, key=f"create-{contact.id}", request="POST /api/v1/contacts",
                          body_hash="0" * 64, status=201, response=f'{{"email": "{contact.email}"}}',
                          contact_id=contact.id),
        LinkClick(click_id=f"campaign-{contact.id}", account_id=account_id, campaign_id=campaign.id,
                  contact_id=contact.id, url="https://www.shop.example/sale", clicked_at=when),
        LinkClick(click_id=f"welcome-{contact.id}", account_id=account_id, contact_id=contact.id,
                  email_id=welcome.id, url="https://www.shop.example/start", clicked_at=when),
        LinkClick(click_id=f"sms-{contact.id}", account_id=account_id, contact_id=contact.id, channel="sms",
                  url="https://www.shop.example/today", clicked_at=when),
    ])
    db.session.commit()
    return {"segment": segment.id, "run": run.id}


# Export -----------------------------------------------------------------------------------------

def test_the_export_downloads_everything_stored_about_the_contact(auth, site, contact, client, drain,
                                                                  intruder):
    history(site, contact)
    grace = make_contact(site.account_id, "grace@navy.example")
    history(site, grace)
    visit(client, site, make_cid(site.account_id, contact.id))
    drain()
    page = auth.client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert f'href="/contacts/{contact.id}/export.json" download>Download data (JSON)</a>' in page

    response = auth.client.get(f"/contacts/{contact.id}/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="contact-{contact.id}.json"'
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    assert data["contact"] | {"created_at": None} == {
        "id": contact.id, "email": "ada@customer.example", "first_name": "Ada", "last_name": "Lovelace",
        "phone": "", "company": "", "birthday": "", "anniversary": "", "email_subscription": "subscribed",
        "sms_subscription": "subscribed", "created_at": None}
    assert data["contact"]["created_at"].startswith(str(contact.created_at.year))
    assert [item["name"] for item in data["lists"]] == ["Newsletter"]
    assert [item["name"] for item in data["tags"]] == ["VIP"]
    assert [item["name"] for item in data["segments"]] == ["Hot leads"]
    assert [(item["segment"], item["change"]) for item in data["segment_history"]] == [("Hot leads",
                                                                                        "joined")]
    assert [(e["subject"], e["campaign"], e["automation"], e["status"], [c["url"] for c in e["clicks"]])
            for e in data["emails"]] == [
        ("Our fall sale", "Fall sale", None, "sent", ["https://www.shop.example/sale"]),
        ("Welcome aboard", None, "Welcome", "outbox", ["https://www.shop.example/start"])]
    assert all(email["sent_at"] for email in data["emails"])
    assert [(m["text"], m["automation"], m["to_number"]) for m in data["sms"]] == [
        ("Our sale ends today", "Welcome", "+14155550123")]
    assert [c["url"] for c in data["other_clicks"]] == ["https://www.shop.example/today"]
    assert [(run["automation"], run["status"]) for run in data["automation_runs"]] == [("Welcome",
                                                                                        "completed")]
    (view,) = data["page_views"]
    assert (view["url"], view["title"], view["utm_source"], view["referrer"], view["device"]) == (
        PRICING, "Pricing", "news", "https://mail.example/", "desktop")
    assert view["viewed_at"] and view["visitor_id"] == "visitor-0001"
    assert "grace@navy.example" not in response.get_data(as_text=True)  # nobody else's data

    assert intruder.get(f"/contacts/{contact.id}/export.json").status_code == 404
    assert auth.client.get("/contacts/999999/export.json").status_code == 404


# Erasure ----------------------------------------------------------------------------------------

def test_erasing_removes_the_contact_and_everything_about_them(auth, site, contact, client, drain, user,
                                                               caplog, monkeypatch):
    ada_id, ids = contact.id, history(site, contact)
    grace = make_contact(site.account_id, "grace@navy.example")
    history(site, grace)
    grace_id, account_id, user_id = grace.id, site.account_id, user.id
    db.session.get(Segment, ids["segment"]).member_count = 2
    db.session.add_all([
        ContactImport(account_id=site.account_id, csv_text="email\nada@customer.example\n", status="done"),
        ContactImport(account_id=site.account_id, csv_text="email\nada@customer.example\n", status="queued")])
    db.session.commit()
    visit(client, site, make_cid(site.account_id, contact.id))
    visit(client, site, make_cid(site.account_id, grace.id))
    drain()
    page = auth.client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert 'data-open-dialog="delete-contact-dialog">Erase all data</button>' in page
    assert '<button type="submit" class="danger">Yes, erase all data</button>' in page

    # The session's in-process migration (Alembic's fileConfig) disabled the loggers that existed then.
    monkeypatch.setattr(privacy.log, "disabled", False)
    with caplog.at_level(logging.INFO, logger="app.privacy"):
        response = auth.client.post(f"/contacts/{contact.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/contacts/"
    assert "Contact ada@customer.example deleted. Everything stored about them was erased." in \
        auth.client.get("/contacts/").get_data(as_text=True)
    assert f"contact #{ada_id} of account #{account_id} erased by user #{user_id}" in caplog.text
    assert "ada@" not in caplog.text  # the audit line holds no personal data

    db.session.rollback()
    for table in db.metadata.sorted_tables:
        if "contact_id" in table.c:
            left = {contact_id: db.session.scalar(select(func.count()).select_from(table)
                                                  .where(table.c.contact_id == contact_id))
                    for contact_id in (ada_id, grace_id)}
            assert left[ada_id] == 0, table.name
            assert left[grace_id] > 0 or table.name == "short_links", table.name  # others keep theirs
    assert db.session.scalar(select(func.count()).select_from(AutomationStepRun)
                             .where(AutomationStepRun.run_id == ids["run"])) == 0
    assert db.session.get(Segment, ids["segment"]).member_count == 1
    assert [c.to_address for c in db.session.scalars(select(Email))] == ["grace@navy.example"] * 2
    assert list(db.session.scalars(select(ContactImport.csv_text)
                                   .where(ContactImport.status == "done"))) == [""]
    # Still needed:
    assert db.session.scalar(select(ContactImport.csv_text).where(ContactImport.status == "queued"))
    assert auth.client.get(f"/contacts/{ada_id}").status_code == 404
    assert auth.client.get(f"/contacts/{ada_id}/export.json").status_code == 404
    tags = auth.client.get(f"/contacts/{grace_id}").get_data(as_text=True)
    assert "VIP" in tags and "Newsletter" in tags  # the account's lists and tags stay for others


def test_an_import_keeps_no_copy_of_its_file_once_finished(auth, site, run_jobs):
    import_id = import_id_of(upload(auth.client, "email,first_name\nada@customer.example,Ada\n"))
    run_jobs()
    assert db.session.get(ContactImport, import_id).csv_text == ""
    assert "1 imported, 0 updated, 0 skipped" in auth.client.get(
        f"/contacts/import/{import_id}").get_data(as_text=True)


def test_another_account_cannot_erase_a_contact(site, contact, intruder):
    assert intruder.post(f"/contacts/{contact.id}/delete").status_code == 404
    assert people.get_contact(site.account_id, contact.id) is not None


# Old links of an erased contact -----------------------------------------------------------------

def test_an_erased_contacts_cid_identifies_nobody_even_when_a_new_contact_gets_their_id(auth, site, client,
                                                                                        drain):
    ada = make_contact(site.account_id, "ada@customer.example", created_at=utcnow() - 30 * DAY)
    old_cid = make_cid(site.account_id, ada.id, issued_at=int((utcnow() - 20 * DAY).timestamp()))
    visit(client, site, old_cid)
    drain()
    assert page_view_contacts() == [ada.id]

    ada_id = erase(auth, ada)
    visit(client, site, old_cid)  # the link again, or the cookie that kept its cid
    drain()
    assert page_view_contacts() == [None]  # stored anonymous, deleted with the anonymous ones

    grace = make_contact(site.account_id, "grace@navy.example", **same_id(ada_id))
    assert grace.id == ada_id
    visit(client, site, old_cid)
    drain()
    assert page_view_contacts() == [None, None]
    visit(client, site, make_cid(site.account_id, grace.id))  # a link sent to her now
    drain()
    assert page_view_contacts() == [None, None, grace.id]


def test_an_erased_contacts_click_links_identify_nobody(auth, site, client, monkeypatch):
    ada = make_contact(site.account_id, "ada@customer.example", created_at=utcnow() - 30 * DAY)
    campaign = Campaign(account_id=site.account_id, name="Fall sale", subject="s", status="sent",
                        started_at=utcnow() - 20 * DAY)
    welcome = Email(account_id=site.account_id, contact_id=ada.id, kind="automation", to_address=ada.email,
                    subject="Welcome", text_body="", html_body="", created_at=utcnow() - 10 * DAY,
                    status="sent", delivered_at=utcnow() - 10 * DAY)
    db.session.add_all([campaign, welcome])
    db.session.commit()
    with monkeypatch.context() as past:  # her messages were rendered ten days ago
        past.setattr(cid_module, "time", SimpleNamespace(time=lambda: (utcnow() - 10 * DAY).timestamp()))
        renderer = Renderer(Message.of_campaign(campaign), PUBLIC)
        campaign_link = renderer.link("https://www.shop.example/sale", ada, "email")
        welcome_link = Renderer(Message(site.account_id, ""), PUBLIC).link(
            "https://www.shop.example/start", ada, "email", email_id=welcome.id)
    click(client, campaign_link)
    assert (last_click().contact_id, last_click().campaign_id) == (ada.id, campaign.id)
    click(client, welcome_link)
    assert (last_click().contact_id, last_click().email_id) == (ada.id, welcome.id)

    welcome_id, ada_id = welcome.id, erase(auth, ada)
    grace = make_contact(site.account_id, "grace@navy.example", **same_id(ada_id))
    # Her first email gets the id Ada's had, too: only the cid's issue time tells them apart.
    hers = Email(account_id=site.account_id, contact_id=grace.id, kind="automation", to_address=grace.email,
                 subject="Welcome", text_body="", html_body="", status="sent", delivered_at=utcnow(),
                 **same_id(welcome_id))
    db.session.add(hers)
    db.session.commit()
    assert (grace.id, hers.id) == (ada_id, welcome_id)
    click(client, campaign_link)
    assert (last_click().contact_id, last_click().campaign_id) == (None, campaign.id)  # still counted
    click(client, welcome_link)
    assert (last_click().contact_id, last_click().email_id) == (None, None)
    click(client, Renderer(Message(site.account_id, ""), PUBLIC).link(
        "https://www.shop.example/start", grace, "email", email_id=hers.id))
    assert (last_click().contact_id, last_click().email_id) == (grace.id, hers.id)  # her own links work


# cid key rotation -------------------------------------------------------------------------------

OLD_KEY, NEW_KEY = new_key(), new_key()


def store_page_views_with(database_url, redis_url, cid_keys: str) -> None:
    """The worker, restarted with CID_KEYS set, stores the page views waiting in the stream."""
    worker = create_app(base_config(database_url, redis_url, CID_KEYS=cid_keys))
    with worker.app_context():
        events.drain(get_redis())


def test_links_made_with_the_old_key_work_until_it_is_removed(site, contact, client, database_url, redis_url):
    def cid_made_with(key: str) -> str:
        return CidCodec(parse_keys(key, "")).encrypt(CidClaims(site.account_id, contact.id, 7, "email",
                                                               int(utcnow().timestamp())))
    old_link, new_link = cid_made_with(OLD_KEY), cid_made_with(NEW_KEY)

    visit(client, site, old_link)
    visit(client, site, new_link)
    store_page_views_with(database_url, redis_url, f"{NEW_KEY},{OLD_KEY}")
    assert page_view_contacts() == [contact.id, contact.id]

    # (New browsers: one the old link identified before stays identified, as browsers do.)
    visit(client, site, old_link, visitor="browser-new-1")
    visit(client, site, new_link, visitor="browser-new-2")
    store_page_views_with(database_url, redis_url, NEW_KEY)  # the old key removed
    assert page_view_contacts() == [contact.id, contact.id, None, contact.id]


def test_the_first_rotation_keeps_links_made_with_the_key_derived_from_secret_key(site, contact, client, app,
                                                                                  database_url, redis_url):
    assert app.config["CID_KEYS"] == ""  # links so far are made with the key derived from SECRET_KEY
    link = make_cid(site.account_id, contact.id)
    output = app.test_cli_runner().invoke(args=["new-cid-key"]).output
    cid_keys = output.splitlines()[-1].removeprefix("CID_KEYS=")
    new, derived = cid_keys.split(",")
    assert output.startswith(f"New key: {new}\n")
    assert derived == encode_key(derive_key(app.config["SECRET_KEY"]))
    visit(client, site, link)
    store_page_views_with(database_url, redis_url, cid_keys)
    assert page_view_contacts() == [contact.id]
