"""Identity rules: browsers that stay identified, the latest click wins, forwarded links, "Forget
this browser", earlier anonymous visits and verified identify, through /collect and the worker."""
import html
import json
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Account, AutomationRun, Browser, Contact, Campaign, IdentityChange, PageView
from app.models.types import utcnow
from app.queues import get_redis
from app.tracking import identity
from app.tracking.cid import make_cid
from app.tracking.sites import dropped_counts
from tests.conftest import HX, make_contact, make_user
from tests.integration.test_ingest import beacon, post


def visit(client, site, visitor, path="/pricing", **fields):
    response = post(client, beacon(site, v=visitor, u=f"https://www.shop.example{path}", **fields))
    assert response.status_code == 204
    return response


def page(client, url) -> str:
    """A page's text as a reader sees it (entities such as &#39; decoded)."""
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def owners(drain, site):
    """Each stored page view's contact id, in the order they were stored."""
    drain()
    return list(db.session.scalars(select(PageView.contact_id).where(PageView.site_id == site.id)
                                   .order_by(PageView.id)))


@pytest.fixture
def grace(site):
    return make_contact(site.account_id, "grace@customer.example", first_name="Grace", last_name="Hopper")


def test_an_identified_browser_stays_identified_without_the_token(client, site, contact, drain):
    visit(client, site, "browser-aaaa", c=make_cid(site.account_id, contact.id))
    visit(client, site, "browser-aaaa", path="/later")  # (a cookie lost, or first-party mode's server cookie)
    visit(client, site, "browser-bbbb")
    assert owners(drain, site) == [contact.id, contact.id, None]
    browser = db.session.scalar(select(Browser))
    assert (browser.contact_id, browser.channel, browser.device) == (contact.id, "email", "desktop")


def test_the_latest_click_wins_and_both_timelines_show_the_switch(client, auth, site, contact, grace, drain):
    visit(client, site, "shared-pc-1", c=make_cid(site.account_id, contact.id))
    visit(client, site, "shared-pc-1", path="/grace", c=make_cid(site.account_id, grace.id))
    visit(client, site, "shared-pc-1", path="/after")
    assert owners(drain, site) == [contact.id, grace.id, grace.id]
    kinds = {(change.contact_id, change.kind, change.other_contact_id)
             for change in db.session.scalars(select(IdentityChange))}
    assert (grace.id, identity.SWITCHED_IN, contact.id) in kinds
    assert (contact.id, identity.SWITCHED_OUT, grace.id) in kinds
    ada_page = page(client, f"/contacts/{contact.id}")
    assert "opened a link of Grace Hopper's: it is no longer theirs" in ada_page
    grace_page = page(client, f"/contacts/{grace.id}")
    assert "A browser identified as Ada Lovelace opened this contact's link: it is theirs now" in grace_page
    assert "/after" in grace_page and "/after" not in ada_page


def test_a_further_browser_within_30_days_is_anonymous_and_flagged_possibly_forwarded(
        client, auth, site, contact, drain):
    campaign = Campaign(account_id=site.account_id, name="Spring sale", channel="email", subject="Sale",
                        body="<p>Hi</p>", status="sent")
    db.session.add(campaign)
    db.session.commit()
    token = make_cid(site.account_id, contact.id, campaign.id, "email")
    for number in range(4):
        visit(client, site, f"browser-{number:04d}", c=token)
    assert owners(drain, site) == [contact.id] * 3 + [None]
    flagged = db.session.scalar(select(Browser).where(Browser.contact_id.is_(None)))
    assert (flagged.forwarded_contact_id, flagged.message_id) == (contact.id, campaign.id)
    text = page(client, f"/contacts/{contact.id}")
    assert "Possibly forwarded" in text and text.count("Forget this browser</button>") == 3
    assert "Email “Spring sale”" in text
    report = page(client, f"/campaigns/{campaign.id}")
    assert "Possibly forwarded</dt><dd>1 browser" in report
    # The flagged browser stays anonymous; a browser last seen over 30 days ago no longer counts.
    visit(client, site, "browser-0003", path="/again", c=token)
    assert owners(drain, site)[-1] is None
    db.session.execute(update(Browser).where(Browser.visitor_id == "browser-0000")
                       .values(last_seen_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    visit(client, site, "browser-0009", c=token)
    assert owners(drain, site)[-2:] == [None, contact.id]


def test_the_limit_is_the_accounts_choice(client, auth, site, contact, drain):
    response = client.post("/settings/tracking/identity", data={"browsers_per_contact": "1"}, headers=HX)
    assert response.status_code == 200 and "Saved." in response.get_data(as_text=True)
    assert db.session.get(Account, site.account_id).browsers_per_contact == 1
    token = make_cid(site.account_id, contact.id)
    visit(client, site, "browser-0001", c=token)
    visit(client, site, "browser-0002", c=token)
    assert owners(drain, site) == [contact.id, None]


@pytest.mark.parametrize("value", ["0", "21", "three", ""])
def test_a_limit_out_of_range_is_refused_with_a_message(client, auth, site, value):
    response = client.post("/settings/tracking/identity", data={"browsers_per_contact": value}, headers=HX)
    assert response.status_code == 422
    assert "Allow between 1 and 20 browsers per contact." in response.get_data(as_text=True)
    assert db.session.get(Account, site.account_id).browsers_per_contact == 3


def test_forget_this_browser_makes_it_anonymous_until_a_new_click(client, auth, site, contact, drain):
    db.session.execute(update(Contact).values(created_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    old_link = make_cid(site.account_id, contact.id, issued_at=int(time.time()) - 60)
    visit(client, site, "browser-0001", c=old_link)
    drain()
    browser = db.session.scalar(select(Browser))
    response = client.post(f"/contacts/{contact.id}/browsers/{browser.id}/forget", headers=HX)
    assert response.status_code == 200
    assert "The browser is anonymous now" in response.get_data(as_text=True)
    db.session.execute(update(Browser).values(forgotten_at=utcnow() - timedelta(seconds=30)))  # (a while ago)
    db.session.commit()
    visit(client, site, "browser-0001", path="/after", c=old_link)  # its cookie still holds the old link
    visit(client, site, "browser-0001", path="/clicked-again", c=make_cid(site.account_id, contact.id))
    assert owners(drain, site) == [contact.id, None, contact.id]
    assert "A browser of theirs was forgotten" in page(client, f"/contacts/{contact.id}")


def test_another_account_cannot_forget_a_browser(client, auth, site, contact, drain, intruder):
    visit(client, site, "browser-0001", c=make_cid(site.account_id, contact.id))
    drain()
    browser = db.session.scalar(select(Browser))
    assert intruder.post(f"/contacts/{contact.id}/browsers/{browser.id}/forget").status_code == 404
    other = make_contact(site.account_id, "other@customer.example")
    assert client.post(f"/contacts/{other.id}/browsers/{browser.id}/forget").status_code == 404
    db.session.refresh(browser)
    assert browser.contact_id == contact.id


def test_a_cid_of_another_account_leaves_the_browser_as_it_was(client, site, contact, drain):
    other = make_user("owner@other.example", account_name="Other")
    stranger = make_contact(other.account_id, "stranger@other.example")
    visit(client, site, "browser-0001", c=make_cid(site.account_id, contact.id))
    visit(client, site, "browser-0001", path="/x", c=make_cid(other.account_id, stranger.id))
    assert owners(drain, site) == [contact.id, contact.id]
    assert db.session.scalar(select(func.count()).select_from(IdentityChange)) == 1  # identified, no switch


# Earlier anonymous visits ------------------------------------------------------------------------

def test_earlier_visits_stay_anonymous_by_default(client, site, contact, drain):
    visit(client, site, "browser-0001", path="/before")
    drain()
    visit(client, site, "browser-0001", c=make_cid(site.account_id, contact.id))
    assert owners(drain, site) == [None, contact.id]


def test_earlier_visits_are_attached_when_the_account_chooses_and_start_no_automation(
        client, auth, site, contact, drain, run_jobs):
    from tests.integration.test_automations_engine import automation, email, end

    response = client.post("/settings/tracking/identity", headers=HX,
                           data={"browsers_per_contact": "3", "attach_earlier_visits": "y"})
    assert response.status_code == 200 and db.session.get(Account, site.account_id).attach_earlier_visits
    automation(site, [email(), end()], trigger={"type": "page_view", "op": "contains", "value": "/before",
                                                "count": 1, "days": None})
    visit(client, site, "browser-0001", path="/before")
    visit(client, site, "browser-0002", path="/someone-else")
    drain()
    old = db.session.scalar(select(PageView).where(PageView.path == "/before"))
    db.session.execute(update(PageView).where(PageView.id == old.id)
                       .values(received_at=utcnow() - timedelta(days=40)))  # outside the retention window
    db.session.commit()
    visit(client, site, "browser-0001", path="/before")
    drain()
    visit(client, site, "browser-0001", path="/landing", c=make_cid(site.account_id, contact.id))
    drain()
    run_jobs()
    rows = db.session.execute(select(PageView.path, PageView.contact_id, PageView.attached_at.is_not(None))
                              .order_by(PageView.id)).all()
    assert rows == [("/before", None, False), ("/someone-else", None, False), ("/before", contact.id, True),
                    ("/landing", contact.id, False)]
    assert db.session.scalar(select(func.count()).select_from(AutomationRun)) == 0
    text = page(client, f"/contacts/{contact.id}")
    assert "Earlier visit" in text and "1 earlier anonymous page view of the browser attached" in text


# Verified identify -------------------------------------------------------------------------------

def signed(site, email, secret=None, **fields):
    secret = secret or db.session.get(type(site), site.id).identify_secret
    return beacon(site, i=email, g=identity.signature(secret, email), **fields)


def test_verified_identify_is_off_by_default_and_a_call_is_ignored_and_counted(client, site, contact, drain):
    assert post(client, signed(site, contact.email, secret="not-on", x=1)).status_code == 204
    assert post(client, signed(site, contact.email, secret="not-on")).status_code == 204
    assert owners(drain, site) == [None]  # the page view is kept, anonymous
    assert dropped_counts(get_redis(), site.id)["identify_refused"] == 2


def test_verified_identify_identifies_an_existing_contact_and_creates_none(client, auth, site, contact,
                                                                          drain):
    response = client.post("/settings/tracking/verified-identify", data={"action": "on"}, headers=HX)
    assert "Verified identify is on." in response.get_data(as_text=True)
    db.session.refresh(site)
    assert len(site.identify_secret) >= 40 and site.identify_secret in response.get_data(as_text=True)
    assert post(client, signed(site, "ADA@customer.example", v="browser-0001", x=1)).status_code == 204
    assert post(client, signed(site, "nobody@customer.example", v="browser-0002", x=1)).status_code == 204
    visit(client, site, "browser-0001", path="/account")
    visit(client, site, "browser-0002", path="/account")
    assert owners(drain, site) == [contact.id, None]  # the identify itself is no page view
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
    browser = db.session.scalar(select(Browser))
    assert (browser.contact_id, browser.channel) == (contact.id, identity.SIGN_IN)
    assert "Signed in on the website" in page(client, f"/contacts/{contact.id}")


def test_a_wrong_signature_another_emails_or_an_old_secret_identifies_nobody(client, auth, site, contact,
                                                                            drain):
    grace = make_contact(site.account_id, "grace@customer.example")
    client.post("/settings/tracking/verified-identify", data={"action": "on"}, headers=HX)
    db.session.refresh(site)
    old_secret = site.identify_secret
    forged = signed(site, grace.email, v="browser-0001")
    forged["i"] = contact.email  # grace's signature, ada's email
    assert post(client, forged).status_code == 204
    assert post(client, beacon(site, v="browser-0002", i=contact.email, g="0" * 64)).status_code == 204
    client.post("/settings/tracking/verified-identify", data={"action": "new_secret"}, headers=HX)
    assert post(client, signed(site, contact.email, secret=old_secret, v="browser-0003")).status_code == 204
    assert owners(drain, site) == [None, None, None]
    assert dropped_counts(get_redis(), site.id)["identify_refused"] == 3
    text = page(client, "/settings/tracking")
    assert "3 identify calls with a wrong signature were ignored this week." in text


@pytest.mark.parametrize("fields", [{"x": 1}, {"x": 2}, {"x": "1", "i": "a@b.example"},
                                    {"i": "not an email", "g": "0" * 64}, {"i": "a@b.example", "g": "xyz"},
                                    {"i": ["a@b.example"]}, {"g": "0" * 65}])
def test_malformed_identify_fields_are_a_400(client, site, fields):
    assert post(client, beacon(site, **fields)).status_code == 400


def test_the_server_code_in_settings_signs_as_footfall_checks(tmp_path):
    secret, email = "s3cr3t-value", "ada@customer.example"
    snippets = {snippet.key: snippet.text for snippet in identity.server_snippets(secret)}
    expected = identity.signature(secret, email)
    namespace = {}
    exec(snippets["python"], namespace)  # noqa: S102 (the code shown to users, run as they would)
    assert namespace["footfall_signature"](email) == expected
    script = tmp_path / "sign.js"
    script.write_text(snippets["node"] + f"\nprocess.stdout.write(footfallSignature({json.dumps(email)}));\n")
    node = subprocess.run(["node", str(script)], capture_output=True, text=True, check=True)
    assert node.stdout == expected
    assert "hash_hmac('sha256', $email, $footfall_identify_secret)" in snippets["php"]
    assert secret in snippets["php"]


def test_an_erased_contacts_browsers_and_timeline_go_with_them(client, auth, site, contact, drain):
    visit(client, site, "browser-0001", c=make_cid(site.account_id, contact.id))
    drain()
    assert client.post(f"/contacts/{contact.id}/delete").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Browser)) == 0
    assert db.session.scalar(select(func.count()).select_from(IdentityChange)) == 0
