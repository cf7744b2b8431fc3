"""The demo of `make run`: an account tracking the demo website, with a believable month of data
(contacts on two lists, page views, a segment, an active automation, a sent campaign with
clicks), made once; `flask create-demo --reset` makes it again."""
import json
import signal
import time

from sqlalchemy import func, select

from app.demo import (ADA, AUTOMATION_NAME, CAMPAIGN_NAME, DEMO_EMAIL, DEMO_PASSWORD, SEGMENT_NAME,
                      DemoWebsite, demo_link, ensure_demo_account, render_page)
from app.extensions import db
from app.messaging import campaigns
from app.models import (Account, Automation, AutomationRun, Campaign, Contact, ContactList, Email, LinkClick,
                        PageView, Segment, TrackingSite, User, list_members)
from app.tracking import setup
from app.tracking.cid import read_cid
from app.tracking.events import store_records

WEBSITE = "http://127.0.0.1:5001"


def count(model, *conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def contents(account_id: int) -> dict:
    """What the demo account holds, table by table."""
    return {model.__tablename__: count(model, model.account_id == account_id)
            for model in (Contact, ContactList, PageView, Segment, Automation, AutomationRun, Campaign, Email,
                          LinkClick, TrackingSite)}


def test_the_demo_has_contacts_on_two_overlapping_lists(app):
    user = ensure_demo_account(WEBSITE)
    assert 35 <= count(Contact, Contact.account_id == user.account_id) <= 45
    lists = dict(db.session.execute(
        select(ContactList.name, func.count(list_members.c.contact_id))
        .join(list_members, list_members.c.list_id == ContactList.id)
        .where(ContactList.account_id == user.account_id).group_by(ContactList.name)).all())
    assert set(lists) == {"Customers", "Newsletter"} and min(lists.values()) >= 15
    on_both = db.session.scalar(select(func.count()).select_from(
        select(list_members.c.contact_id).group_by(list_members.c.contact_id)
        .having(func.count() == 2).subquery()))
    assert on_both >= 5
    ada = db.session.scalar(select(Contact).where(Contact.email == ADA))
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert count(Contact, Contact.account_id == user.account_id, Contact.phone != "") >= 3


def test_the_demo_has_a_month_of_page_views_of_every_kind(app):
    user = ensure_demo_account(WEBSITE)
    views = PageView.account_id == user.account_id
    days = db.session.scalar(select(func.count(func.distinct(func.date(PageView.received_at)))).where(views))
    assert days >= 25
    assert count(PageView, views, PageView.contact_id.is_not(None)) >= 100
    assert count(PageView, views, PageView.contact_id.is_(None)) >= 500
    assert db.session.scalar(select(func.count(func.distinct(PageView.contact_id))).where(views)) >= 20
    assert (set(db.session.scalars(select(PageView.device).where(views).distinct()))
            == {"desktop", "mobile", "tablet"})
    sources = set(db.session.scalars(select(PageView.utm_source)
                                     .where(views, PageView.utm_source != "").distinct()))
    assert len(sources) >= 3 and "newsletter" in sources
    assert {"/", "/pricing", "/blog", "/app"} <= set(
        db.session.scalars(select(PageView.path).where(views).distinct()))
    # Not flat: weekdays see more visits than weekends, and the chart has a peak.
    per_day = list(db.session.execute(select(func.date(PageView.received_at), func.count()).where(views)
                                      .group_by(func.date(PageView.received_at))).all())
    counts = [number for _, number in per_day]
    assert max(counts) >= 2 * min(counts)


def test_the_demo_has_a_segment_with_members_and_an_active_automation(app):
    user = ensure_demo_account(WEBSITE)
    segment = db.session.scalar(select(Segment).where(Segment.account_id == user.account_id))
    assert segment.name == SEGMENT_NAME and segment.member_count >= 5
    rule = segment.rules["groups"][0]["rules"][0]
    assert (rule["value"], rule["count"], rule["days"]) == ("/pricing", 2, 14)
    automation = db.session.scalar(select(Automation).where(Automation.account_id == user.account_id))
    assert (automation.name, automation.status) == (AUTOMATION_NAME, "active")
    assert automation.trigger["type"] == "page_view" and automation.trigger["value"] == "/pricing"
    assert [step["kind"] for step in automation.steps] == ["delay", "email", "end"]
    assert automation.steps[1]["subject"] == "Questions about pricing?"
    # Those who came to the pricing page from the campaign are waiting a day for that email.
    assert count(AutomationRun, AutomationRun.automation_id == automation.id,
                 AutomationRun.status == "waiting") >= 1


def test_the_demo_campaign_is_sent_and_its_report_shows_clicks(app):
    user = ensure_demo_account(WEBSITE)
    campaign = db.session.scalar(select(Campaign).where(Campaign.account_id == user.account_id,
                                                        Campaign.name == CAMPAIGN_NAME))
    assert campaign.status == "sent" and [item.name for item in campaign.lists] == ["Newsletter"]
    delivered = campaigns.delivery_counts(campaign)  # the figures of the campaign's report
    assert delivered == campaigns.Deliveries(delivered=campaign.recipients, in_outbox=campaign.recipients,
                                             waiting=0, failed=0) and campaign.recipients >= 20
    clicks = campaigns.click_counts(campaign)
    assert clicks["clicks"] >= 1 and 1 <= clicks["clickers"] <= clicks["clicks"]
    # Clicks are those of recipients, on the email they got, and lead to identified page views.
    assert count(LinkClick, LinkClick.campaign_id == campaign.id, LinkClick.contact_id.is_(None)) == 0
    assert count(LinkClick, LinkClick.campaign_id == campaign.id, LinkClick.email_id.is_(None)) == 0
    assert count(PageView, PageView.account_id == user.account_id, PageView.utm_campaign == "spring-offer",
                 PageView.contact_id.is_not(None)) >= clicks["clickers"]
    welcome = db.session.scalar(select(Campaign).where(Campaign.account_id == user.account_id,
                                                       Campaign.name == "Welcome"))
    assert welcome.status == "draft" and [item.name for item in welcome.lists] == ["Customers"]
    # It greets each contact by name, and is ready to send as it is.
    from app.contacts.people import find_by_email
    from app.messaging.campaigns import check_ready
    from app.messaging.personalise import Personaliser

    check_ready(welcome)
    ada = find_by_email(user.account_id, "ada@example.com")
    assert Personaliser(user.account_id).render(welcome.subject, ada) == "Welcome to the Demo Shop, Ada"


def test_the_demo_login_shows_the_campaign_report_with_its_clicks(app, client):
    user = ensure_demo_account(WEBSITE)
    campaign = db.session.scalar(select(Campaign).where(Campaign.account_id == user.account_id,
                                                        Campaign.name == CAMPAIGN_NAME))
    clicks = campaigns.click_counts(campaign)
    assert client.post("/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}).status_code == 302
    page = " ".join(client.get(f"/campaigns/{campaign.id}").get_data(as_text=True).split())
    assert CAMPAIGN_NAME in page
    assert f"<dt>Clicks</dt><dd>{clicks['clicks']} by {clicks['clickers']} contacts</dd>" in page


def test_the_demo_is_made_once_and_a_later_run_only_follows_the_website(app):
    user = ensure_demo_account(WEBSITE)
    before = contents(user.account_id)
    again = ensure_demo_account("http://127.0.0.1:5002")  # a second run, the demo website on another port
    assert again.id == user.id and contents(user.account_id) == before
    site = setup.get_site(user.account_id)
    assert site.website_url == "http://127.0.0.1:5002" and site.enabled
    welcome = db.session.scalar(select(Campaign).where(Campaign.name == "Welcome"))
    assert 'href="http://127.0.0.1:5002/pricing"' in welcome.body and welcome.status == "draft"
    assert count(User, User.email == DEMO_EMAIL) == 1


def test_making_the_demo_leaves_the_signal_handlers_of_make_run_alone(app):
    def on_signal(signum, frame):
        pass

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        ensure_demo_account(WEBSITE)  # runs the campaign's jobs in this process
        assert signal.getsignal(signal.SIGINT) is on_signal and signal.getsignal(signal.SIGTERM) is on_signal
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def test_the_printed_link_identifies_ada_and_starts_the_automation_for_her(app, run_jobs):
    user = ensure_demo_account(WEBSITE)
    link = demo_link(user, WEBSITE)
    claims = read_cid(link.split("cid=")[1])
    ada = db.session.scalar(select(Contact).where(Contact.email == ADA))
    assert (claims.account_id, claims.contact_id) == (user.account_id, ada.id)
    automation = db.session.scalar(select(Automation).where(Automation.account_id == user.account_id))
    assert count(AutomationRun, AutomationRun.contact_id == ada.id) == 0
    segment = db.session.scalar(select(Segment).where(Segment.account_id == user.account_id))
    assert ada.id not in segment_members(segment)
    # Her visit, as the tracker sends it: the address without cid, the cid on its own.
    site = setup.get_site(user.account_id)
    record = {"s": site.id, "a": site.account_id, "u": link.split("&cid=")[0], "t": "Pricing", "r": "",
              "v": "ada-browser-1", "c": link.split("cid=")[1], "e": "ada-clicks-the-demo-link",
              "ts": None, "rt": int(time.time() * 1000), "ua": "Mozilla/5.0"}
    assert store_records([json.dumps(record)]) == 1
    run_jobs()
    assert db.session.scalar(select(AutomationRun.status)
                             .where(AutomationRun.automation_id == automation.id,
                                    AutomationRun.contact_id == ada.id)) == "waiting"
    # Her second view of the pricing page in 14 days: she joins the segment.
    assert ada.id in segment_members(db.session.get(Segment, segment.id))


def segment_members(segment) -> set[int]:
    from app.models import segment_members as members

    return set(db.session.scalars(select(members.c.contact_id).where(members.c.segment_id == segment.id)))


def test_create_demo_reset_makes_the_demo_again_without_duplicates(app):
    user = ensure_demo_account(WEBSITE)
    before = contents(user.account_id)
    old_account = user.account_id
    runner = app.test_cli_runner()

    result = runner.invoke(args=["create-demo"])
    assert result.exit_code == 0, result.output
    assert "demo@example.com / footfall-demo" in result.output and "cid=" in result.output
    assert contents(old_account) == before  # idempotent

    result = runner.invoke(args=["create-demo", "--reset"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    assert count(User, User.email == DEMO_EMAIL) == 1 and count(Account) == 1
    assert contents(user.account_id) == before
    assert setup.get_site(user.account_id).website_url == WEBSITE  # the same website is tracked
    if user.account_id != old_account:  # (SQLite may give the new account the old one's id)
        assert all(number == 0 for number in contents(old_account).values())


def test_create_demo_without_redis_says_what_it_needs(app_config):
    from app import create_app

    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["create-demo"])
        assert result.exit_code == 1 and "Redis does not answer" in result.output
        assert db.session.scalar(select(User).where(User.email == DEMO_EMAIL)) is None


def test_demo_pages_carry_the_embed_code_in_head():
    page = render_page("/pricing", '<script async src="http://x/t/k.js"></script>')
    assert page.index('<script async src="http://x/t/k.js"></script>') < page.index("</head>")
    assert render_page("/nope", "") is None
    website = DemoWebsite("", 0).start()
    try:
        import urllib.request
        assert b"Demo Shop" in urllib.request.urlopen(website.url + "/", timeout=5).read()
    finally:
        website.stop()


def test_with_a_mail_server_configured_the_demo_sends_nothing_to_its_made_up_addresses(app):
    from app.models import Email
    app.config["MAIL_URL"] = "smtp://127.0.0.1:9"
    user = ensure_demo_account("http://127.0.0.1:5001")
    campaign = db.session.scalar(select(Campaign).where(Campaign.account_id == user.account_id,
                                                        Campaign.name == "Spring offer"))
    assert campaign is not None and campaign.status == "draft"
    assert db.session.scalar(select(Email.id).where(Email.campaign_id == campaign.id)) is None


def test_a_production_instance_refuses_to_create_the_demo(app):
    from app.models import User
    app.config["FOOTFALL_ENV"] = "production"
    result = app.test_cli_runner().invoke(args=["create-demo", "--reset"])
    assert result.exit_code != 0 and "not production" in result.output
    assert db.session.scalar(select(User.id)) is None
