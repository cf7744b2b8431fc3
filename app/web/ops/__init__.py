"""Endpoints for the operator's tools, not for people: liveness, readiness and Prometheus metrics.

No sign-in: probes and scrapers cannot sign in. /metrics takes a bearer token when METRICS_TOKEN is
set; in production without one it is closed (404) unless METRICS_PUBLIC=1 says the operator
restricts it at the proxy.
"""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from app import metrics
from app.extensions import database_error
from app.messaging.clicks import CLICKS_STREAM
from app.queues import get_redis
from app.tracking.ingest import EVENTS_STREAM

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)

# The streams the workers' consumer stores, by the label /metrics gives them.
CONSUMED_STREAMS = {"page_views": EVENTS_STREAM, "clicks": CLICKS_STREAM}


@bp.get("/healthz")
def healthz():
    """Renders "ok" while the process serves requests; touches nothing else."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


@bp.get("/readyz")
def readyz():
    """Renders whether the database and Redis answer, as JSON: 200 when both do, else 503."""
    checks = {"database": _database_answers(), "redis": _redis_answers()}
    body = {name: "ok" if answered else "unavailable" for name, answered in checks.items()}
    return body, 200 if all(checks.values()) else 503, {"Cache-Control": "no-store"}


def _database_answers() -> bool:
    error = database_error()
    if error is not None:  # one line, not a traceback: probes ask every few seconds
        log.warning("readiness: the database does not answer: %s", error)
    return error is None


def _redis_answers() -> bool:
    try:
        return bool(get_redis().ping())
    except RedisError as error:
        log.warning("readiness: Redis does not answer: %s", error)
        return False


@bp.get("/metrics")
def prometheus_metrics():
    """Renders every metric in Prometheus's text format (503 while Redis does not answer)."""
    token = current_app.config["METRICS_TOKEN"]
    if (not token and current_app.config["FOOTFALL_ENV"] == "production"
            and not current_app.config["METRICS_PUBLIC"]):
        abort(404)  # (queue depths and counts by site are nobody's business on the open internet)
    if token and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                         f"Bearer {token}".encode()):
        return "A bearer token is required.\n", 401, {"WWW-Authenticate": "Bearer",
                                                     "Content-Type": "text/plain; charset=utf-8"}
    try:
        body = metrics.exposition(get_redis(), CONSUMED_STREAMS)
    except RedisError as error:
        log.warning("metrics: Redis does not answer: %s", error)
        return "Redis does not answer\n", 503, {"Content-Type": "text/plain; charset=utf-8"}
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
