"""Settings → Website tracking, through the HTTP interface the pages use (htmx requests)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import PageView, TrackingAuditEntry, TrackingSite
from app.models.types import utcnow
from app.tracking import setup
from app.tracking.urls import match_forms
from tests.conftest import HX


def activate(client, url="https://www.shop.example", agree=True):
    data = {"website_url": url}
    if agree:
        data["agree_terms"] = "y"
    return client.post("/settings/tracking/activate", data=data, headers=HX)


def finished_site(client) -> TrackingSite:
    activate(client)
    client.post("/settings/tracking/step", data={"to": "status"}, headers=HX)
    client.post("/settings/tracking/step", data={"to": "finish"}, headers=HX)
    return db.session.scalar(select(TrackingSite))


def add_page_view(site, host="www.shop.example", path="/pricing", age=timedelta(minutes=1), **fields):
    url = f"https://{host}{path}"
    match_url, match_path = match_forms(url)
    view = PageView(event_id=fields.pop("event_id", f"e{utcnow().timestamp()}{path}{host}{age}"),
                    account_id=site.account_id, site_id=site.id, visitor_id="v1", host=host, url=url,
                    path=path.partition("?")[0].rstrip("/") or "/", match_url=match_url,
                    match_path=match_path, received_at=utcnow() - age, **fields)
    db.session.add(view)
    db.session.commit()
    return view


def test_the_wizard_starts_at_step_one(auth):
    page = auth.client.get("/settings/tracking").get_data(as_text=True)
    assert 'aria-current="step">1. Your website' in page
    assert 'name="website_url"' in page and 'name="agree_terms"' in page
    assert "/legal/tracking-terms" in page


def test_step_one_without_the_tick_saves_nothing(auth):
    response = activate(auth.client, agree=False)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="tracking-panel"' in body and "<html" not in body  # an htmx fragment
    assert "agree to the tracking terms" in body
    assert db.session.scalar(select(func.count()).select_from(TrackingSite)) == 0


@pytest.mark.parametrize("url, message", [
    ("example", "full domain name"),
    ("ftp://x", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("", "Enter your website"),
    ("https://" + "a" * 2050 + ".com", "too long"),
])
def test_step_one_rejects_bad_urls_inline(auth, url, message):
    response = activate(auth.client, url=url)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(TrackingSite)) == 0


def test_step_one_shows_both_errors_at_once(auth):
    body = activate(auth.client, url="example", agree=False).get_data(as_text=True)
    assert "full domain name" in body and "agree to the tracking terms" in body


def test_step_one_records_the_acceptance_and_shows_the_code(auth, user):
    response = activate(auth.client, url="Shop.Example/")
    assert response.status_code == 200
    site = db.session.scalar(select(TrackingSite))
    assert site.website_url == "https://shop.example"
    assert site.enabled and site.wizard_step == 2
    assert site.terms_accepted_by_id == user.id and site.terms_version == setup.TERMS_VERSION
    assert utcnow() - site.terms_accepted_at < timedelta(minutes=1)
    assert len(site.site_key) >= 16 and not site.site_key.isdigit()
    code = f'<script async src="https://footfall.test/t/{site.site_key}.js"></script>'
    body = response.get_data(as_text=True)
    assert "&lt;script async src=&#34;https://footfall.test/t/" in body or code in body
    assert "Copy code" in body and "Send to developer" in body
    assert 'aria-current="step">2. Install the code' in body


def test_site_keys_are_random(auth, intruder):
    activate(auth.client)
    first = db.session.scalar(select(TrackingSite)).site_key
    activate(intruder, url="https://other.example")
    db.session.rollback()
    keys = set(db.session.scalars(select(TrackingSite.site_key)))
    assert len(keys) == 2 and first in keys


def test_continue_and_finish_lead_to_the_management_view(auth):
    activate(auth.client)
    step3 = auth.client.post("/settings/tracking/step", data={"to": "status"},
                             headers=HX).get_data(as_text=True)
    assert 'aria-current="step">3. Check the status' in step3
    assert "Not receiving data" in step3 and 'hx-trigger="every 5s' in step3
    done = auth.client.post("/settings/tracking/step", data={"to": "finish"},
                            headers=HX).get_data(as_text=True)
    assert 'role="switch" aria-checked="true"' in done
    assert "Edit" in done and "Copy code" in done and "History" in done
    assert db.session.scalar(select(TrackingSite)).wizard_step is None


def test_served_script_is_javascript_for_known_keys_only(auth, client):
    site = finished_site(auth.client)
    response = client.get(f"/t/{site.site_key}.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "max-age=300" in response.headers["Cache-Control"]
    assert client.get("/t/not-a-key.js").status_code == 404


def test_status_rules(auth):
    site = finished_site(auth.client)
    assert setup.status(site).key == "not_receiving"
    add_page_view(site, age=timedelta(days=8))
    assert setup.status(site).key == "not_receiving"
    add_page_view(site, host="blog.shop.example", path="/hello", age=timedelta(days=6))
    status = setup.status(site)
    assert (status.key, status.label, status.last_event_path) == ("receiving", "Receiving data", "/hello")
    site.enabled = False
    db.session.commit()
    assert setup.status(site).label == "Disabled"


def test_events_from_the_old_website_do_not_count_after_an_edit(auth):
    site = finished_site(auth.client)
    add_page_view(site)
    assert setup.status(site).key == "receiving"
    auth.client.post("/settings/tracking/website", data={"website_url": "https://newshop.example"},
                     headers=HX)
    db.session.rollback()
    assert setup.status(site).key == "not_receiving"
    add_page_view(site, host="newshop.example", path="/")
    assert setup.status(site).key == "receiving"


def test_a_lookalike_host_is_not_the_website(auth):
    site = finished_site(auth.client)
    add_page_view(site, host="notshop.example")
    assert setup.status(site).key == "not_receiving"


def test_status_fragment_stops_polling_once_receiving(auth):
    site = finished_site(auth.client)
    polling = auth.client.get("/settings/tracking/status", headers=HX).get_data(as_text=True)
    assert "every 5s" in polling
    add_page_view(site, path="/checkout")
    body = auth.client.get("/settings/tracking/status", headers=HX).get_data(as_text=True)
    assert "Receiving data" in body and "from /checkout" in body and "every 5s" not in body


def test_turning_tracking_off_and_on(auth, client):
    site = finished_site(auth.client)
    off = auth.client.post("/settings/tracking/enabled", data={"enabled": "0"}, headers=HX)
    assert off.headers["HX-Trigger"] == "tracking-changed"
    assert 'aria-checked="false"' in off.get_data(as_text=True)
    db.session.rollback()
    assert setup.status(site).label == "Disabled"
    script = client.get(f"/t/{site.site_key}.js").get_data(as_text=True)
    assert "turned off" in script and "footfall" not in script.split("*/", 1)[1]
    on = auth.client.post("/settings/tracking/enabled", data={"enabled": "1"}, headers=HX)
    assert 'aria-checked="true"' in on.get_data(as_text=True)
    assert "Turn off website tracking?" in on.get_data(as_text=True)
    actions = list(db.session.scalars(select(TrackingAuditEntry.action).order_by(TrackingAuditEntry.id)))
    assert actions[-2:] == ["turned_off", "turned_on"]


def test_the_audit_trail_names_who_and_when(auth, user):
    finished_site(auth.client)
    auth.client.post("/settings/tracking/enabled", data={"enabled": "0"}, headers=HX)
    body = auth.client.get("/settings/tracking/audit", headers=HX).get_data(as_text=True)
    assert f"Tracking turned off by {user.email} at" in body
    assert "UTC" in body


def test_edit_website_inline(auth):
    finished_site(auth.client)
    form = auth.client.get("/settings/tracking/website/edit", headers=HX).get_data(as_text=True)
    assert 'id="tracking-website"' in form and 'value="https://www.shop.example"' in form
    bad = auth.client.post("/settings/tracking/website", data={"website_url": "ftp://x"}, headers=HX)
    assert bad.status_code == 422 and "http:// or https://" in bad.get_data(as_text=True)
    assert db.session.scalar(select(TrackingSite.website_url)) == "https://www.shop.example"
    good = auth.client.post("/settings/tracking/website", data={"website_url": "newshop.example"}, headers=HX)
    body = good.get_data(as_text=True)
    assert good.status_code == 200
    assert "Add the tracking code below to every page of https://newshop.example" in body
    assert db.session.scalar(select(TrackingSite.website_url)) == "https://newshop.example"
    trail = auth.client.get("/settings/tracking/audit", headers=HX).get_data(as_text=True)
    assert "https://www.shop.example → https://newshop.example" in trail


def test_full_page_without_htmx(auth):
    finished_site(auth.client)
    response = auth.client.get("/settings/tracking")
    assert "<html" in response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]


def test_a_second_account_sees_only_its_own_setup(auth, intruder):
    finished_site(auth.client)
    other = intruder
    page = other.get("/settings/tracking").get_data(as_text=True)
    assert "shop.example" not in page and 'aria-current="step">1.' in page
    for method, path in [("get", "/settings/tracking/status"), ("get", "/settings/tracking/website/edit"),
                         ("post", "/settings/tracking/enabled"), ("post", "/settings/tracking/website"),
                         ("get", "/settings/tracking/audit"), ("post", "/settings/tracking/send")]:
        assert getattr(other, method)(path, headers=HX).status_code == 404, path
    assert db.session.scalar(select(TrackingSite.enabled)) is True
