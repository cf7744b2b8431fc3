"""The beacon side: the served tracking script and POST /collect.

CSRF-exempt: requests come from visitors' browsers on the tracked website. /collect never
writes the database; it sets cookies only in first-party mode, where the requests come through
the website's own proxy (app/tracking/first_party.py), and /forget clears them.
"""
import hashlib
import json

from flask import Blueprint, Response, abort, current_app, make_response, request
from redis.exceptions import RedisError

from app.extensions import per_app
from app.metrics import process_counts
from app.public_url import public_url
from app.queues import get_redis
from app.tracking.first_party import (FORGET, PROBE_COOKIE, PROBE_COOKIE_NAME, PROBE_VERDICT,
                                      OWN_COOKIES, PROXIED_ENDPOINTS, PROXY_HEADER, Proxied)
from app.tracking.ingest import MAX_BODY_BYTES, Answer, Ingest
from app.tracking.sites import SiteUnavailable
from app.tracking.snippet import served_script

bp = Blueprint("ingest", __name__)

SCRIPT_MAX_AGE = 300
# When Redis is unreachable: how long a sender should wait before trying again.
RETRY_AFTER_SECONDS = 30
BEACON_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
    "Cache-Control": "no-store",
}


def _ingest() -> Ingest:
    return per_app("footfall.ingest", lambda: Ingest(current_app.config["INGEST_RATE_PER_ADDRESS"],
                                                     current_app.config["INGEST_RATE_PER_SITE"],
                                                     process_counts(), current_app.config["PROXY_COUNT"]))


def _proxied() -> Proxied | None:
    """What a request that came through a website's proxy says; None for one that did not."""
    if PROXY_HEADER not in request.headers:
        return None
    cookies = {name: value for name, value in request.cookies.items() if name in OWN_COOKIES}
    return Proxied(request.headers.get(PROXY_HEADER, ""), request.headers.get("X-Forwarded-For", ""), cookies)


@bp.before_app_request
def refuse_proxied_pages():
    """A website's proxy reaches the beacon endpoints only, never the app's pages: a bare 404,
    without the app's error page, so nothing of the app (its session cookie above all, which
    would land on the website's domain) comes back through the proxy."""
    if PROXY_HEADER in request.headers and request.endpoint not in PROXIED_ENDPOINTS:
        return Response("", 404, {"Cache-Control": "no-store"})
    return None


@bp.get("/t/<site_key>.js")
def tracking_script(site_key: str):
    """Renders the tracking script for a site key; a no-op script when tracking is off."""
    ingest, proxied, address = _ingest(), _proxied(), request.remote_addr or ""
    if not (ingest.may_look_up(site_key, address) if proxied else ingest.may_ask_about(site_key, address)):
        return "", 429, {"Retry-After": "1"}
    try:
        site = ingest.sites.get(site_key, get_redis())
    except (SiteUnavailable, RedisError):
        return "", 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if site is None:
        abort(404)
    if not ingest.may_serve_script(site, address, proxied):
        return "", 429, {"Retry-After": "1"}
    response = make_response(served_script(site_key, site, f"{public_url()}/collect"))
    response.mimetype = "text/javascript"
    # Cached a while when tracking is on; when it is off, asked for again (a 304 while unchanged)
    # on every page, so that tracking starts on the first page after it is turned on.
    response.headers["Cache-Control"] = f"public, max-age={SCRIPT_MAX_AGE}" if site.enabled else "no-cache"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)


@bp.route("/collect", methods=["POST", "OPTIONS"])
def collect():
    """Accepts a page-view beacon: 204, a 4xx status for what cannot be accepted, or 503 with
    Retry-After while Redis is unreachable."""
    if request.method == "POST" and request.args.get("probe"):
        return _probe(request.args["probe"])
    answer = Answer(204)
    if request.method == "POST":
        if (request.content_length or 0) > MAX_BODY_BYTES:
            answer = Answer(_ingest().refuse(get_redis(), 413, "too_large"))
        else:
            answer = _ingest().accept(get_redis(), request.stream.read(MAX_BODY_BYTES + 1),
                                      request.headers.get("User-Agent", ""), request.remote_addr or "",
                                      _proxied())
    if answer.status == 503:
        return "", answer.status, {**BEACON_HEADERS, "Retry-After": str(RETRY_AFTER_SECONDS)}
    return _with_cookies(make_response("", answer.status, BEACON_HEADERS), answer.cookies, answer.secure)


def _probe(nonce: str):
    """Answers the install check's probe of a website's proxy with what it saw; stores nothing."""
    verdict = _ingest().probe(get_redis(), request.stream.read(MAX_BODY_BYTES + 1), request.remote_addr or "",
                              _proxied())
    if isinstance(verdict, int):
        return "", verdict, BEACON_HEADERS
    cookie = "received" if request.cookies.get(PROBE_COOKIE_NAME) == nonce else "missing"
    response = make_response("", 204, {**BEACON_HEADERS, PROBE_VERDICT: verdict, PROBE_COOKIE: cookie})
    response.set_cookie(PROBE_COOKIE_NAME, "", max_age=0, path="/", httponly=True, samesite="Lax")
    return response


@bp.post("/forget")
def forget():
    """Clears the first-party cookies (`footfall('consent', false)`: the script cannot, they are
    HttpOnly). The body may carry the page's address, for the cookies' Secure attribute."""
    try:
        page = json.loads(request.stream.read(MAX_BODY_BYTES + 1) or b"{}").get("u", "")
    except (ValueError, AttributeError, RecursionError):
        page = ""
    secure = isinstance(page, str) and page.startswith("https:")
    return _with_cookies(make_response("", 204, {"Cache-Control": "no-store"}), FORGET, secure)


def _with_cookies(response, cookies, secure: bool):
    for cookie in cookies:
        response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path="/", secure=secure,
                            httponly=True, samesite="Lax")
    return response
