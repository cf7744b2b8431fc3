"""First-party mode at /collect: the website's proxy proves itself with the site's secret, the
answer sets HttpOnly cookies from the website's origin, and the identity comes from them."""
import json
import time
from functools import partial
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import PageView
from app.tracking import first_party, setup
from app.tracking.cid import make_cid
from app.tracking.first_party import COOKIE_LIFETIME, PROXY_HEADER
from app.tracking.sites import dropped_counts
from app.queues import get_redis
from tests.conftest import make_contact, make_user
from tests.integration.test_ingest import beacon

PROXY_ADDRESS = "198.51.100.7"
VISITOR_ADDRESS = "203.0.113.50"


@pytest.fixture
def bare(app):
    """A bare without a cookie jar: each test says which cookies the browser sends."""
    return app.test_client(use_cookies=False)


@pytest.fixture
def proxied_site(site, user):
    setup.set_first_party(site, user, True)
    db.session.commit()
    return site


def send(bare, site, *, secret=None, cookies=None, forwarded_for=VISITOR_ADDRESS, **fields):
    headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
               "X-Forwarded-For": forwarded_for}
    if secret is not False:
        headers[PROXY_HEADER] = site.proxy_secret if secret is None else secret
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    body = beacon(site, v="", **fields)
    return bare.post("/collect", data=json.dumps(body), content_type="text/plain",
                       headers=headers, environ_base={"REMOTE_ADDR": PROXY_ADDRESS})


def set_cookies(response) -> dict[str, SimpleCookie]:
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        found.update({name: morsel for name, morsel in cookie.items()})
    return found


def stored():
    return list(db.session.scalars(select(PageView).order_by(PageView.id)))


def test_switching_on_makes_a_secret_and_a_same_origin_code(proxied_site):
    assert len(proxied_site.proxy_secret) >= 40
    assert setup.embed_code(proxied_site, "https://footfall.example") == \
        f'<script async src="/ff/t/{proxied_site.site_key}.js"></script>'
    rules = setup.proxy_rules(proxied_site, "https://footfall.example")
    assert [rule.name for rule in rules] == ["nginx", "Caddy", "Apache", "Cloudflare Worker", "Next.js"]
    assert all(proxied_site.proxy_secret in rule.text and "footfall.example" in rule.text for rule in rules)


def test_a_proxied_click_sets_httponly_first_party_cookies_and_identifies(bare, proxied_site, contact,
                                                                          drain):
    token = make_cid(proxied_site.account_id, contact.id, 7)
    response = send(bare, proxied_site, c=token)
    assert response.status_code == 204
    cookies = set_cookies(response)
    assert set(cookies) == {"_ff_vid", "_ff_id"}
    assert cookies["_ff_id"].value == token  # the encrypted token: it reveals nothing
    for morsel in cookies.values():
        assert morsel["httponly"] and morsel["path"] == "/" and morsel["samesite"] == "Lax"
        assert morsel["max-age"] == str(COOKIE_LIFETIME) and morsel["secure"]  # the page is https
    visitor = cookies["_ff_vid"].value.split(".")[0]
    # The next page: the script sends no identity; the cookies carry it, and none is set again today.
    again = send(bare, proxied_site, cookies={"_ff_vid": cookies["_ff_vid"].value, "_ff_id": token})
    assert again.status_code == 204 and set_cookies(again) == {}
    assert drain() == 2
    assert [(view.contact_id, view.visitor_id) for view in stored()] == [(contact.id, visitor)] * 2


def test_the_cookies_are_set_again_at_most_once_a_day(bare, proxied_site, contact, monkeypatch):
    token = make_cid(proxied_site.account_id, contact.id)
    first = set_cookies(send(bare, proxied_site, c=token))
    jar = {"_ff_vid": first["_ff_vid"].value, "_ff_id": token}
    assert set_cookies(send(bare, proxied_site, cookies=jar)) == {}
    later = time.time() + 8 * 86400  # a week and a day later: past Safari's cap on script cookies
    monkeypatch.setattr(first_party, "time", type("Clock", (), {"time": staticmethod(lambda: later)}))
    refreshed = set_cookies(send(bare, proxied_site, cookies=jar))
    assert refreshed["_ff_id"].value == token
    assert refreshed["_ff_vid"].value.split(".")[0] == jar["_ff_vid"].split(".")[0]


def test_an_http_page_gets_cookies_without_secure(bare, proxied_site):
    cookies = set_cookies(send(bare, proxied_site, u="http://www.shop.example/"))
    assert cookies["_ff_vid"]["httponly"] and not cookies["_ff_vid"]["secure"]


@pytest.mark.parametrize("secret, reason", [(False, "proxy_missing"), ("", "proxy_missing"),
                                            ("x" * 43, "proxy_secret")])
def test_a_first_party_beacon_without_the_proxys_secret_is_refused_and_counted(
        bare, proxied_site, drain, secret, reason):
    response = send(bare, proxied_site, secret=secret)
    assert response.status_code == 403 and set_cookies(response) == {}
    assert dropped_counts(get_redis(), proxied_site.id)[reason] == 1
    assert drain() == 0


def test_another_sites_secret_is_refused(bare, proxied_site, app):
    other_user = make_user("owner@other.example", account_name="Other")
    other = setup.activate(other_user, "https://other.example", terms_accepted=True)
    setup.set_first_party(other, other_user, True)
    db.session.commit()
    assert send(bare, proxied_site, secret=other.proxy_secret).status_code == 403


def test_a_forwarded_address_that_is_not_one_is_refused(bare, proxied_site):
    assert send(bare, proxied_site, forwarded_for="not-an-address").status_code == 403
    assert send(bare, proxied_site, forwarded_for="").status_code == 403
    assert dropped_counts(get_redis(), proxied_site.id)["proxy_address"] == 2


def test_visitors_behind_the_proxy_are_limited_each_by_their_own_address(bare, proxied_site, app):
    limit = app.config["INGEST_RATE_PER_ADDRESS"] * 10  # the burst
    statuses = [send(bare, proxied_site, forwarded_for=f"203.0.113.{n % 250}").status_code
                for n in range(limit + 20)]
    assert set(statuses) == {204}  # all from the proxy's address, each visitor well within the limit
    flood = [send(bare, proxied_site, forwarded_for="192.0.2.1").status_code for _ in range(limit + 40)]
    assert 429 in flood


def test_the_visitors_own_forged_forwarded_for_is_not_taken(bare, proxied_site, app):
    """A proxy that appends (Apache, nginx's $proxy_add_x_forwarded_for) leaves what the visitor
    sent in front: only the last entry is the visitor's address."""
    limit = app.config["INGEST_RATE_PER_ADDRESS"] * 10
    assert send(bare, proxied_site, secret="forged").status_code == 403
    ingest, now = app.extensions["footfall.ingest"], time.monotonic()
    for limiter in (ingest.per_address, ingest.per_site):
        limiter.clock = lambda: now  # no refill while this test counts, however slow the machine
    statuses = [send(bare, proxied_site, forwarded_for=f"10.0.0.{n % 250}, 192.0.2.2").status_code
                for n in range(limit + 40)]
    assert 429 in statuses


def test_a_cid_of_another_account_or_tampered_identifies_nobody(bare, proxied_site, contact, drain):
    other_user = make_user("owner@other.example", account_name="Other")
    stranger = make_contact(other_user.account_id, "bob@other.example")
    theirs = make_cid(other_user.account_id, stranger.id)
    mine = make_cid(proxied_site.account_id, contact.id)
    tampered = mine[:20] + ("x" if mine[20] != "x" else "y") + mine[21:]
    for token in (theirs, tampered):
        cookies = set_cookies(send(bare, proxied_site, c=token))
        assert "_ff_id" not in cookies
    # A browser identified as Ada stays Ada when a bad token arrives.
    jar = {"_ff_vid": "visitor-ada-0001.0", "_ff_id": mine}
    assert set_cookies(send(bare, proxied_site, cookies=jar, c=theirs))["_ff_id"].value == mine
    drain()
    assert [view.contact_id for view in stored()] == [None, None, contact.id]


def test_a_standard_site_ignores_the_header_and_still_needs_the_scripts_visitor_id(bare, site):
    assert send(bare, site, secret="whatever").status_code == 400  # v is empty
    body = beacon(site)
    response = bare.post("/collect", data=json.dumps(body), content_type="text/plain",
                           headers={"User-Agent": "Mozilla/5.0 Chrome/156.0", PROXY_HEADER: "whatever"})
    assert response.status_code == 204 and set_cookies(response) == {}


def test_forget_clears_the_httponly_cookies(bare):
    response = bare.post("/forget", data=json.dumps({"u": "https://www.shop.example/"}),
                           content_type="text/plain")
    cookies = set_cookies(response)
    assert response.status_code == 204
    assert {name: morsel["max-age"] for name, morsel in cookies.items()} == {"_ff_vid": "0", "_ff_id": "0"}
    assert all(morsel["secure"] and morsel["httponly"] for morsel in cookies.values())
    for garbage in (b"[1]", b"{", b'"x"', b'{"u": 5}'):
        assert bare.post("/forget", data=garbage, content_type="text/plain").status_code == 204


def test_the_proxy_reaches_the_beacon_endpoints_only(bare, proxied_site):
    for path in ("/login", "/settings/tracking", "/contacts", "/healthz", "/static/css/app.css"):
        assert bare.get(path, headers={PROXY_HEADER: proxied_site.proxy_secret}).status_code == 404, path
    script = bare.get(f"/t/{proxied_site.site_key}.js", headers={PROXY_HEADER: proxied_site.proxy_secret,
                                                                    "X-Forwarded-For": VISITOR_ADDRESS})
    assert script.status_code == 200 and b'"e":' not in script.data and b"/forget" in script.data


def test_settings_offer_the_standard_way_first_then_first_party_with_the_rules(auth, site):
    from tests.conftest import HX

    page = auth.client.get("/settings/tracking").get_data(as_text=True)
    assert page.index("Standard: from Footfall's address") < page.index("First-party: through your website")
    assert 'name="first_party" value="0" checked' in page and "proxy_set_header" not in page
    answer = auth.client.post("/settings/tracking/serving", data={"first_party": "1"}, headers=HX)
    body = answer.get_data(as_text=True)
    db.session.refresh(site)
    assert answer.status_code == 200 and "Saved. Copy the code again" in body
    assert f'&lt;script async src=&#34;/ff/t/{site.site_key}.js&#34;&gt;' in body
    for name in ("nginx", "Caddy", "Apache", "Cloudflare Worker", "Next.js"):
        assert f"<summary>{name}</summary>" in body
    assert body.count(site.proxy_secret) == 5 and 'label for="proxy-nginx"' in body
    audit = auth.client.get("/settings/tracking/audit", headers=HX).get_data(as_text=True)
    assert "Code served first-party, through the website" in audit
    # Back to standard: the code from Footfall's address again; the secret is kept for next time.
    secret = site.proxy_secret
    back = auth.client.post("/settings/tracking/serving", data={"first_party": "0"}, headers=HX)
    db.session.refresh(site)
    code = back.get_data(as_text=True)
    assert f"/t/{site.site_key}.js" in code and "/ff/t/" not in code
    assert not site.first_party and site.proxy_secret == secret


def test_send_to_developer_includes_the_proxy_rules_in_first_party_mode(auth, proxied_site, run_jobs):
    from app.models import Email
    from tests.conftest import HX

    auth.client.post("/settings/tracking/send", data={"recipients": "dev@agency.example"}, headers=HX)
    email = db.session.scalar(select(Email).where(Email.kind == "developer_code"))
    assert f'<script async src="/ff/t/{proxied_site.site_key}.js"></script>' in email.text_body
    assert "FIRST-PARTY MODE: A PROXY RULE FIRST" in email.text_body
    assert email.text_body.count(proxied_site.proxy_secret) == 5 and "proxy_set_header" in email.html_body


def test_a_forged_proxy_header_bypasses_no_limit(bare, proxied_site, app):
    """Unproven requests are limited by the address they came from, like any beacon."""
    limit = app.config["INGEST_RATE_PER_ADDRESS"] * 10
    assert send(bare, proxied_site, secret="forged").status_code == 403
    ingest, now = app.extensions["footfall.ingest"], time.monotonic()
    for limiter in (ingest.per_address, ingest.per_site):
        limiter.clock = lambda: now  # no refill while this test counts, however slow the machine
    statuses = [send(bare, proxied_site, secret="forged", forwarded_for=f"203.0.113.{n % 250}").status_code
                for n in range(limit + 40)]
    assert 429 in statuses and set(statuses) == {403, 429}
    probe = partial(bare.post, "/collect?probe=x", data=json.dumps({"k": proxied_site.site_key}),
                    headers={PROXY_HEADER: "forged"}, environ_base={"REMOTE_ADDR": PROXY_ADDRESS})
    probes = [probe().status_code for _ in range(5)]
    assert probes == [429] * 5  # the same address, already over its limit


def test_a_refused_proxied_request_gets_a_bare_404_without_the_apps_session(bare, proxied_site):
    for path in ("/login", "/nope", "/ff/anything"):
        answer = bare.get(path, headers={PROXY_HEADER: proxied_site.proxy_secret, "Cookie": "session=theirs"})
        assert answer.status_code == 404 and answer.data == b"" and "Set-Cookie" not in answer.headers


def test_odd_cookie_values_are_a_new_visitor_not_an_error(bare, proxied_site):
    for jar in ({"_ff_vid": '"abcdefgh.\\302\\262"'}, {"_ff_vid": "abcdefgh.\u0662"}, {"_ff_id": "x" * 101},
                {"_ff_vid": "a" * 500}, {"_ff_vid": "abcdefgh.99999999999"}):
        answer = send(bare, proxied_site, cookies=jar)
        assert answer.status_code == 204 and "_ff_vid" in set_cookies(answer), jar


def test_a_new_proxy_secret_replaces_the_old_one(auth, proxied_site, bare):
    from tests.conftest import HX

    old = proxied_site.proxy_secret
    answer = auth.client.post("/settings/tracking/proxy-secret", headers=HX)
    db.session.refresh(proxied_site)
    assert answer.status_code == 200 and proxied_site.proxy_secret != old
    body = answer.get_data(as_text=True)
    assert proxied_site.proxy_secret in body and old not in body and "A new secret was made" in body
    assert send(bare, proxied_site, secret=old).status_code == 403
    assert send(bare, proxied_site).status_code == 204
    audit = auth.client.get("/settings/tracking/audit", headers=HX).get_data(as_text=True)
    assert "A new proxy secret was made" in audit


def test_no_new_secret_in_standard_mode(auth, site):
    from tests.conftest import HX

    assert auth.client.post("/settings/tracking/proxy-secret", headers=HX).status_code == 409
