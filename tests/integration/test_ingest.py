"""POST /collect and the event pipeline: validation, identification, idempotent storage."""
import json
import time

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import PageView
from app.queues import get_redis
from app.tracking.cid import make_cid
from app.tracking.ingest import EVENTS_STREAM
from app.tracking.sites import dropped_counts
from tests.conftest import make_contact, make_user

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
counter = iter(range(10**9))


def beacon(site, **fields):
    body = {"k": site.site_key, "u": "https://www.shop.example/pricing?plan=pro", "t": "Pricing",
            "r": "https://mail.example/", "v": "visitor-0001", "c": "", "e": f"event-{next(counter):08d}",
            "ts": int(time.time() * 1000)}
    body.update(fields)
    return body


def post(client, body, *, raw=None, content_type="text/plain;charset=UTF-8", user_agent=BROWSER,
         address="203.0.113.9"):
    data = raw if raw is not None else json.dumps(body)
    return client.post("/collect", data=data, content_type=content_type,
                       headers={"User-Agent": user_agent}, environ_base={"REMOTE_ADDR": address})


def stored():
    return list(db.session.scalars(select(PageView).order_by(PageView.id)))


def test_a_beacon_is_queued_not_written(client, site):
    response = post(client, beacon(site))
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in response.headers
    assert get_redis().xlen(EVENTS_STREAM) == 1
    assert stored() == []


def test_an_anonymous_page_view_is_stored_with_its_details(client, site, drain):
    post(client, beacon(site, u="https://www.shop.example/pricing/?utm_source=news&utm_campaign=fall&cid=&x=1",
                        ts=int(time.time() * 1000) + 86_400_000 * 3))
    assert drain() == 1
    (view,) = stored()
    assert view.contact_id is None
    assert view.url == "https://www.shop.example/pricing/?utm_source=news&utm_campaign=fall&x=1"
    assert view.path == "/pricing" and view.host == "www.shop.example"
    assert (view.utm_source, view.utm_campaign, view.utm_medium) == ("news", "fall", "")
    assert view.title == "Pricing" and view.referrer == "https://mail.example/"
    assert view.device == "desktop"
    assert view.client_time <= view.received_at  # a clock 3 days ahead is clamped


def test_a_valid_cid_identifies_the_contact(client, site, contact, drain):
    post(client, beacon(site, c=make_cid(site.account_id, contact.id, 7)))
    drain()
    assert [v.contact_id for v in stored()] == [contact.id]


@pytest.mark.parametrize("forge", ["tampered", "other_account", "unknown_contact", "garbage"])
def test_a_bad_cid_identifies_nobody(client, site, contact, drain, forge):
    if forge == "tampered":
        token = make_cid(site.account_id, contact.id)
        token = token[:30] + ("A" if token[30] != "A" else "B") + token[31:]
    elif forge == "other_account":
        token = make_cid(site.account_id + 1000, contact.id)
    elif forge == "unknown_contact":
        token = make_cid(site.account_id, contact.id + 1000)
    else:
        token = "not-a-token"
    assert post(client, beacon(site, c=token)).status_code == 204
    drain()
    assert [v.contact_id for v in stored()] == [None]


def test_a_contact_of_another_account_is_not_identified(client, site, drain):
    other = make_user("other@else.example")
    stranger = make_contact(other.account_id, "stranger@else.example")
    post(client, beacon(site, c=make_cid(site.account_id, stranger.id)))
    drain()
    assert [v.contact_id for v in stored()] == [None]


def test_the_same_event_is_stored_once(client, site, drain):
    body = beacon(site)
    post(client, body)
    post(client, body)
    drain()
    post(client, body)
    drain()
    assert len(stored()) == 1


def test_device_classes(client, site, drain):
    post(client, beacon(site), user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148")
    post(client, beacon(site), user_agent="Mozilla/5.0 (iPad; CPU OS 17_0) AppleWebKit")
    post(client, beacon(site), user_agent="Mozilla/5.0 (Linux; Android 14; SM-X200) AppleWebKit Safari")
    drain()
    assert sorted(v.device for v in stored()) == ["mobile", "tablet", "tablet"]


@pytest.mark.parametrize("raw, status", [
    ("{not json", 400),
    ("[1, 2, 3]", 400),
    ("", 400),
    ("\xff\xfe", 400),
    (json.dumps({"k": 5, "u": "https://www.shop.example/", "v": "visitor-0001", "e": "event-xyz-1"}), 400),
    (json.dumps({"u": "https://www.shop.example/", "v": "visitor-0001", "e": "event-xyz-1"}), 400),
    (json.dumps({"k": "KEY", "u": "javascript:alert(1)", "v": "visitor-0001", "e": "event-xyz-1"}), 400),
    (json.dumps({"k": "KEY", "u": "https://www.shop.example/", "v": "visitor-0001", "e": "event-xyz-1",
                 "ts": "yesterday"}), 400),
    (json.dumps({"k": "KEY", "u": "https://www.shop.example/", "v": "a b", "e": "event-xyz-1"}), 400),
    (json.dumps({"k": "KEY", "u": "https://www.shop.example/" + "x" * 3000, "v": "visitor-0001",
                 "e": "e-xyz-12"}), 400),
    (json.dumps({"k": "KEY", "u": "https://www.shop.example/", "v": "visitor-0001", "e": "event-xyz-1",
                 "t": "x" * 9000}), 413),
    (json.dumps({"k": "no-such-key", "u": "https://www.shop.example/", "v": "visitor-0001",
                 "e": "event-xyz-1"}), 404),
    # `$` accepted a trailing newline: ids were stored with it.
    (json.dumps({"k": "KEY", "u": "https://www.shop.example/", "v": "visitor-0001\n", "e": "event-xyz-1"}),
     400),
    (json.dumps({"k": "KEY", "u": "https://www.shop.example/", "v": "visitor-0001", "e": "event-xyz-1\n"}),
     400),
    # Nested deeper than the JSON parser recurses: a 400, not a 500 with a traceback.
    ("[" * 4000, 400),
    ('{"k":' * 1500, 400),
])
def test_garbage_gets_a_4xx_and_nothing_is_queued(client, site, raw, status):
    raw = raw.replace('"KEY"', json.dumps(site.site_key))
    assert post(client, None, raw=raw).status_code == status
    assert get_redis().xlen(EVENTS_STREAM) == 0


def test_credentials_in_a_page_address_or_referrer_are_not_stored(client, site, drain):
    post(client, beacon(site, u="https://alice:s3cret@www.shop.example/pricing?plan=pro",
                        r="https://bob:hunter2@mail.example/inbox"))
    drain()
    (view,) = stored()
    assert view.url == "https://www.shop.example/pricing?plan=pro" and view.host == "www.shop.example"
    assert view.referrer == "https://mail.example/inbox"
    assert "s3cret" not in view.match_url and "alice" not in view.match_url
    post(client, beacon(site, r="https://bob:hunter2@[not-an-address/inbox"))
    drain()
    assert stored()[-1].referrer == ""  # not a URL: nothing of it is kept


def test_nesting_too_deep_is_counted_as_invalid_and_logs_no_traceback(client, site, caplog):
    from tests.integration.test_operations import scrape

    before = scrape(client).get(("footfall_beacons_dropped_total", ("reason", "invalid")), 0)
    assert post(client, None, raw="[" * 4000).status_code == 400
    assert scrape(client)[("footfall_beacons_dropped_total", ("reason", "invalid"))] == before + 1
    assert not [record for record in caplog.records if record.levelno >= 40 or record.exc_info]


def test_the_per_address_limit_comes_before_any_site_look_up(app_config, site):
    from app import create_app

    app = create_app({**app_config, "INGEST_RATE_PER_ADDRESS": 1})  # bursts of 10
    client = app.test_client()
    # Keys never seen: 5 at once from one address, then refused before any look-up.
    answers = [post(client, beacon(site, k=f"made-up-key-{index:04d}")).status_code for index in range(8)]
    assert answers == [404] * 5 + [429] * 3
    # Known keys: the address's own limit (10 at once), whatever the key.
    other = "198.51.100.77"
    answers = [post(client, beacon(site), address=other).status_code for _ in range(12)]
    assert answers == [204] * 10 + [429] * 2
    assert post(client, beacon(site, k="made-up-key-0000"), address=other).status_code == 429
    # An IPv6 network counts as one address.
    answers = [post(client, beacon(site, k=f"other-key-{index:04d}"), address=f"2001:db8:9::{index + 1:x}")
               .status_code for index in range(8)]
    assert answers.count(429) == 3
    # (refused by form first)
    assert post(client, None, raw="{}", address="2001:db8:9::99").status_code == 400


def test_a_flood_of_made_up_site_keys_costs_no_query_each(app, client, site):
    from sqlalchemy import event

    assert post(client, beacon(site), address="192.0.2.2").status_code == 204  # a real site, known
    queries = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: queries.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        answers = [post(client, beacon(site, k=f"made-up-key-{index:04d}"),
                        address=f"198.51.{index // 250}.{index % 250}")
                   .status_code for index in range(500)]
        again = [post(client, beacon(site, k=f"made-up-key-{index:04d}"), address="192.0.2.1").status_code
                 for index in range(20)]
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    site_queries = [query for query in queries if "tracking_sites" in query]
    assert len(site_queries) <= 120  # a burst of 100 look-ups, then 20 a second: not 500
    assert set(answers) == {404, 429} and answers.count(404) >= 100
    assert set(again[:10]) <= {404}  # unknown keys asked about a moment ago: remembered, no query
    # The real site still works during the flood.
    assert post(client, beacon(site), address="192.0.2.2").status_code == 204


def test_a_nine_kilobyte_body_is_refused(client, site):
    response = post(client, None, raw="x" * 9 * 1024)
    assert response.status_code == 413


def test_json_content_type_and_preflight_work_too(client, site, drain):
    assert client.options("/collect").status_code == 204
    assert post(client, beacon(site), content_type="application/json").status_code == 204
    assert drain() == 1


@pytest.mark.parametrize("url",
                         ["https://evil.example/", "https://notshop.example/",
                          "https://shop.example.evil.example/"])
def test_foreign_hosts_are_dropped_and_counted(client, site, drain, url):
    assert post(client, beacon(site, u=url)).status_code == 204
    drain()
    assert stored() == []
    assert dropped_counts(get_redis(), site.id) == {"foreign_host": 1}


def test_subdomains_and_the_bare_domain_count_as_the_website(client, site, drain):
    post(client, beacon(site, u="https://shop.example/"))
    post(client, beacon(site, u="https://blog.shop.example/hello"))
    drain()
    assert sorted(v.host for v in stored()) == ["blog.shop.example", "shop.example"]


def test_bots_are_dropped(client, site, drain):
    post(client, beacon(site), user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)")
    post(client, beacon(site), user_agent="")
    drain()
    assert stored() == []
    assert dropped_counts(get_redis(), site.id) == {"bot": 2}


def test_a_disabled_site_drops_events_even_those_already_queued(client, site, drain, auth):
    post(client, beacon(site))  # accepted while on
    auth.client.post("/settings/tracking/enabled", data={"enabled": "0"})
    drain()
    assert stored() == []


def test_a_script_title_is_stored_as_text_and_shown_escaped(client, site, contact, drain, auth):
    post(client, beacon(site, t="<script>alert('x')</script>", c=make_cid(site.account_id, contact.id)))
    drain()
    assert stored()[0].title == "<script>alert('x')</script>"
    page = auth.client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<script>alert(" not in page


def test_floods_from_one_address_are_limited(client, site, app):
    rate = app.config["INGEST_RATE_PER_ADDRESS"]
    started = time.monotonic()
    statuses = [post(client, beacon(site)).status_code for _ in range(rate * 15)]
    refilled = rate * (time.monotonic() - started)
    assert statuses.count(204) <= rate * 10 + refilled + 1  # the burst, plus what the rate refilled
    assert statuses.count(429) >= rate * 5 - refilled - 1
    assert post(client, beacon(site), address="198.51.100.7").status_code == 204


def test_no_ip_address_is_stored(client, site, drain):
    post(client, beacon(site), address="203.0.113.77")
    drain()
    row = db.session.execute(select(PageView.__table__)).mappings().one()
    assert "203.0.113.77" not in json.dumps({k: str(v) for k, v in row.items()})


def test_identified_views_reach_the_hook(client, site, contact, drain):
    from app.signals import page_views_stored

    received = []
    with page_views_stored.connected_to(lambda sender, views: received.extend(views)):
        post(client, beacon(site, c=make_cid(site.account_id, contact.id)))
        post(client, beacon(site, v="visitor-0002"))  # another browser, anonymous
        drain()
    assert [(v.contact_id, v.path) for v in received] == [(contact.id, "/pricing")]
    assert db.session.scalar(select(func.count()).select_from(PageView)) == 2


def test_behind_a_proxy_the_forwarded_address_is_rate_limited(database_url, redis_url):
    from app import create_app
    from tests.conftest import base_config, empty_database
    from app.tracking import setup

    app = create_app(base_config(database_url, redis_url, PROXY_COUNT=1))
    with app.app_context():
        try:
            site = setup.activate(make_user(), "https://www.shop.example", terms_accepted=True)
            db.session.commit()
            client = app.test_client()
            flood = [client.post("/collect", data=json.dumps(beacon(site)),
                                 headers={"User-Agent": BROWSER, "X-Forwarded-For": "203.0.113.1"})
                     .status_code for _ in range(app.config["INGEST_RATE_PER_ADDRESS"] * 15)]
            other = client.post("/collect", data=json.dumps(beacon(site)),
                                headers={"User-Agent": BROWSER, "X-Forwarded-For": "198.51.100.2"})
            assert flood.count(429) > 0 and other.status_code == 204
        finally:
            db.session.remove()
            empty_database()
            get_redis().flushdb()


def test_the_status_tells_about_pages_from_another_website(client, site, auth):
    post(client, beacon(site, u="https://old-shop.example/"))
    body = auth.client.get("/settings/tracking/status").get_data(as_text=True)
    assert "1 page view from pages outside https://www.shop.example was ignored" in body
