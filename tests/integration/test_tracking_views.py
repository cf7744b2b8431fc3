"""What the marketer sees of page views: dashboard, timeline, privacy settings, test link, install check."""
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from app.extensions import db
from app.models import Email, TrackingSite
from app.models.types import utcnow
from app.tracking import reports
from app.tracking.cid import read_cid
from tests.conftest import HX, make_contact
from tests.integration.test_tracking_setup import add_page_view
from tests.support import free_port


def test_dashboard_counts_identified_and_anonymous_per_day(auth, site, contact):
    add_page_view(site, path="/pricing", contact_id=contact.id, age=timedelta(hours=1))
    add_page_view(site, path="/pricing", age=timedelta(hours=2))
    add_page_view(site, path="/blog", age=timedelta(days=2))
    add_page_view(site, path="/old", age=timedelta(days=45))
    days = reports.views_per_day(site.account_id)
    assert len(days) == 30
    assert sum(day.identified for day in days) == 1 and sum(day.anonymous for day in days) == 2
    assert days[-1].day == utcnow().date() and days[-3].total >= 1  # oldest first, two days ago has /blog
    page = auth.client.get("/").get_data(as_text=True)
    assert "<svg class=\"chart\"" in page
    assert "Identified contacts: 1" in page and "Anonymous: 2" in page
    assert "/pricing" in page and "/old" not in page
    assert "Ada Lovelace" in page


def test_top_pages_and_visitors_are_per_account(auth, site, contact, intruder):
    add_page_view(site, path="/secret-offer", contact_id=contact.id)
    page = intruder.get("/").get_data(as_text=True)
    assert "/secret-offer" not in page and "Ada" not in page


def test_contact_timeline_and_isolation(auth, site, contact, intruder):
    add_page_view(site, path="/pricing", contact_id=contact.id, title="Pricing plans")
    page = auth.client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Pricing plans" in page and "https://www.shop.example/pricing" in page
    other = intruder
    assert other.get(f"/contacts/{contact.id}").status_code == 404
    assert "ada@customer.example" not in other.get("/contacts/").get_data(as_text=True)


def test_contacts_search_and_add(auth, site):
    make_contact(site.account_id, "grace@navy.example", first_name="Grace")
    make_contact(site.account_id, "alan@bletchley.example", first_name="Alan")
    found = auth.client.get("/contacts/?q=grace", headers=HX).get_data(as_text=True)
    assert "grace@navy.example" in found and "alan@" not in found and "<html" not in found
    bad = auth.client.post("/contacts/", data={"email": "nope"})
    assert bad.status_code == 422 and "valid email" in bad.get_data(as_text=True)
    added = auth.client.post("/contacts/", data={"email": "kay@example.org", "first_name": "Kay"})
    assert added.status_code == 302


def test_privacy_settings(auth, site, client):
    bad = auth.client.post("/settings/tracking/privacy", data={"retention_days": "45"}, headers=HX)
    assert bad.status_code == 422 and "between 1 and 30 days" in bad.get_data(as_text=True)
    ok = auth.client.post("/settings/tracking/privacy", data={"retention_days": "7"}, headers=HX)
    assert ok.status_code == 200 and "Saved." in ok.get_data(as_text=True)
    db.session.rollback()
    stored = db.session.scalar(select(TrackingSite))
    assert (stored.respect_privacy_signals, stored.anonymous_retention_days) == (False, 7)
    script = client.get(f"/t/{site.site_key}.js").get_data(as_text=True)
    assert '"p":0' in script
    trail = auth.client.get("/settings/tracking/audit").get_data(as_text=True)
    assert "browser privacy signals ignored" in trail


def test_send_me_a_test_link(auth, site, user, run_jobs):
    response = auth.client.post("/settings/tracking/test-link", headers=HX)
    assert "A link tagged for you was sent to owner@shop.example" in response.get_data(as_text=True)
    run_jobs()
    email = db.session.scalar(select(Email).where(Email.kind == "test_link"))
    assert email.status == "outbox" and email.to_address == user.email
    link = next(word for word in email.text_body.split() if word.startswith("https://www.shop.example/?cid="))
    claims = read_cid(link.split("cid=", 1)[1])
    assert claims.account_id == site.account_id and claims.channel == "test"


class _Website(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_check_installation_runs_as_a_job(auth, site, run_jobs):
    port = free_port()
    _Website.body = f'<html><head><script async src="https://footfall.test/t/{site.site_key}.js"></script></head></html>'.encode()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Website)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        auth.client.post("/settings/tracking/website", data={"website_url": f"http://127.0.0.1:{port}"},
                         headers=HX)
        pending = auth.client.post("/settings/tracking/check", headers=HX).get_data(as_text=True)
        assert "Checking" in pending and "every 2s" in pending
        run_jobs()
        done = auth.client.get("/settings/tracking/check", headers=HX).get_data(as_text=True)
    finally:
        server.shutdown()
    assert "Installed" in done and "every 2s" not in done
