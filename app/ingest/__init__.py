"""The beacon side: the served tracking script and POST /collect.

CSRF-exempt: requests come from visitors' browsers on the tracked website. /collect never
writes the database and never sets a cookie.
"""
import hashlib

from flask import Blueprint, abort, current_app, make_response, request
from redis.exceptions import RedisError

from app.extensions import per_app
from app.metrics import process_counts
from app.public_url import public_url
from app.queues import get_redis
from app.tracking.ingest import MAX_BODY_BYTES, Ingest, SiteUnavailable
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
                                                     process_counts()))


@bp.get("/t/<site_key>.js")
def tracking_script(site_key: str):
    """Renders the tracking script for a site key; a no-op script when tracking is off."""
    if not _ingest().may_ask_about(site_key, request.remote_addr or ""):
        return "", 429, {"Retry-After": "1"}
    try:
        site = _ingest().sites.get(site_key, get_redis())
    except (SiteUnavailable, RedisError):
        return "", 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if site is None:
        abort(404)
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
    status = 204
    if request.method == "POST":
        if (request.content_length or 0) > MAX_BODY_BYTES:
            status = _ingest().refuse(get_redis(), 413, "too_large")
        else:
            status = _ingest().accept(get_redis(), request.stream.read(MAX_BODY_BYTES + 1),
                                      request.headers.get("User-Agent", ""), request.remote_addr or "")
    if status == 503:
        return "", status, {**BEACON_HEADERS, "Retry-After": str(RETRY_AFTER_SECONDS)}
    return "", status, BEACON_HEADERS
