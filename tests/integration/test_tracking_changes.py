"""A change made in Settings → Website tracking reaches every web process before the next beacon:
each process keeps its sites while their version in Redis is unchanged, and the script served
while tracking is off is asked for again on every page."""
import pytest
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import PageView
from app.queues import get_redis
from app.tracking.ingest import EVENTS_STREAM
from app.tracking.sites import dropped_counts
from tests.conftest import HX, IsolatedClient
from tests.integration.test_ingest import beacon, post
from tests.integration.test_tracking_setup import finished_site


@pytest.fixture
def other_process(app_config):
    """A second web process: its own app, so its own site cache and rate limiters."""
    other = create_app(app_config)
    other.test_client_class = IsolatedClient
    return other.test_client()


def queued() -> int:
    return get_redis().xlen(EVENTS_STREAM)


def test_turning_tracking_on_reaches_every_process_before_the_next_beacon(auth, other_process, drain):
    site = finished_site(auth.client)
    auth.client.post("/settings/tracking/enabled", data={"enabled": "0"}, headers=HX)
    assert post(other_process, beacon(site)).status_code == 204 and queued() == 0  # dropped: off
    assert post(other_process, beacon(site)).status_code == 204 and queued() == 0  # (and now cached)

    auth.client.post("/settings/tracking/enabled", data={"enabled": "1"}, headers=HX)
    assert post(other_process, beacon(site)).status_code == 204
    assert queued() == 1  # at once, not after a cache's time
    assert drain() == 1

    auth.client.post("/settings/tracking/enabled", data={"enabled": "0"}, headers=HX)
    post(other_process, beacon(site))  # queued as the process knew the site, then found changed
    assert dropped_counts(get_redis(), site.id)["disabled"] == 3
    drain()
    assert db.session.scalar(select(func.count()).select_from(PageView)) == 1  # the worker dropped it


def test_a_new_website_reaches_every_process_and_restarts_the_ignored_count(auth, other_process):
    site = finished_site(auth.client)
    new_site = beacon(site, u="https://newshop.example/")
    assert post(other_process, new_site).status_code == 204 and queued() == 0
    assert dropped_counts(get_redis(), site.id)["foreign_host"] == 1
    settings = auth.client.get("/settings/tracking").get_data(as_text=True)
    assert "1 page view from pages outside https://www.shop.example was ignored" in settings

    auth.client.post("/settings/tracking/website", data={"website_url": "newshop.example"}, headers=HX)
    assert dropped_counts(get_redis(), site.id).get("foreign_host", 0) == 0
    assert post(other_process, beacon(site, u="https://newshop.example/pricing")).status_code == 204
    assert queued() == 1
    db.session.rollback()
    post(other_process, beacon(site, u="https://www.shop.example/pricing"))  # the old website now
    assert queued() == 1 and dropped_counts(get_redis(), site.id)["foreign_host"] == 1
    settings = auth.client.get("/settings/tracking").get_data(as_text=True)
    assert "1 page view from pages outside https://newshop.example was ignored" in settings


def test_no_database_query_per_beacon_while_nothing_changes(auth, other_process, monkeypatch):
    site = finished_site(auth.client)
    post(other_process, beacon(site))  # the process reads the site once
    from app.tracking import sites

    monkeypatch.setattr(sites.db.session, "scalar", lambda *a, **k: pytest.fail("a query per beacon"))
    for _ in range(5):
        assert post(other_process, beacon(site)).status_code == 204
    assert queued() == 6


def test_the_script_served_while_off_is_revalidated_so_the_next_page_after_on_is_tracked(auth, client):
    site = finished_site(auth.client)
    auth.client.post("/settings/tracking/enabled", data={"enabled": "0"}, headers=HX)
    off = client.get(f"/t/{site.site_key}.js")
    assert "turned off" in off.get_data(as_text=True)
    assert off.headers["Cache-Control"] == "no-cache" and off.headers["ETag"]
    again = client.get(f"/t/{site.site_key}.js", headers={"If-None-Match": off.headers["ETag"]})
    assert again.status_code == 304  # the browser keeps its copy while nothing changed

    auth.client.post("/settings/tracking/enabled", data={"enabled": "1"}, headers=HX)
    on = client.get(f"/t/{site.site_key}.js", headers={"If-None-Match": off.headers["ETag"]})
    assert on.status_code == 200 and "turned off" not in on.get_data(as_text=True)
    assert site.site_key in on.get_data(as_text=True)
    assert on.headers["Cache-Control"] == "public, max-age=300"
