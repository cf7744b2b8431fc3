"""Every page the app shows carries the security headers: a Content-Security-Policy, nosniff, a
Referrer-Policy and X-Frame-Options. The walk covers every GET route of the URL map, signed in
and signed out, with the ids of real objects, plus the error pages."""
from tests.conftest import HX
from tests.integration.test_isolation import ROUTES, account_objects, fill

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def get_routes(objects: dict) -> list[str]:
    return [fill(rule, objects) for rule in ROUTES if "GET" in rule.methods]


def missing_headers(response) -> list[str]:
    return [name for name in SECURITY_HEADERS if not response.headers.get(name)]


def test_every_page_sends_the_security_headers(app, auth, user, site, contact):
    objects = account_objects(user, site, contact)
    anonymous = app.test_client()
    error_pages = ["/no-such-page", "/contacts/999999", "/contacts/?q=%00"]
    pages, unprotected = 0, {}
    for client, who in ((auth.client, "signed in"), (anonymous, "signed out")):
        for url in get_routes(objects) + error_pages:
            for headers in ({}, HX):
                response = client.get(url, headers=headers)
                assert response.status_code < 500, f"{url} ({who}): {response.status_code}"
                if response.mimetype != "text/html" or 300 <= response.status_code < 400:
                    continue  # a redirect's body is never shown
                pages += 1
                if missing := missing_headers(response):
                    unprotected[f"{url} ({who}, {response.status_code})"] = missing
    assert unprotected == {}
    assert pages >= 60  # the walk reached real pages, not only redirects to the sign-in page


def test_the_policy_allows_no_inline_script_nor_framing_by_others(auth):
    response = auth.client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_refused_redirects_show_a_protected_page(app, client, site):
    responses = (client.get("/s/guess123") for _ in range(app.config["REDIRECT_RATE_PER_ADDRESS"] * 100))
    refused = next(response for response in responses if response.status_code == 429)
    assert not missing_headers(refused)
