"""The REST API, /api/v1: bearer keys per account (app/api_keys.py), an OpenAPI 3.1 document made
from the routes' pydantic models by flask-openapi3 (docs/api.md says why that library), cursor
pagination, problem+json errors (app/api/problems.py), idempotency keys on creating POSTs.

Routes stay thin: they read the request's models, call the domain modules (app/contacts/...), and
answer with the response models below. Every query is bound to the key's account: an object of
another account is a 404, like one that does not exist."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import time

from flask import Blueprint, current_app, g, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import api_keys
from app.api.problems import PROBLEM_JSON, ApiError
from app.extensions import db
from app.models.api import IdempotentRequest
from app.queues import get_redis

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
# The largest body: a batch of 1,000 events of about a kilobyte each.
MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_LIMIT, MAX_LIMIT = 50, 200

_ERROR_STATUSES = {
    400: "The request is not JSON, or a cursor or header is malformed.",
    401: "No API key, or one that is wrong or revoked.",
    403: "The key is read only.",
    413: "The body is larger than 2 MB.",
    422: "A value is wrong: `field` names it.",
    429: "Too many requests with this key: wait `Retry-After` seconds.",
}


def error_responses(*statuses: int) -> dict:
    """OpenAPI responses of the given error statuses, with the problem+json schema."""
    described = {
        **_ERROR_STATUSES,
        404: "No such object in this account.",
        409: "It conflicts with an existing object (an email taken, a request in flight).",
        503: "A part of Footfall is unreachable for a moment: try again after `Retry-After`.",
    }
    responses = {}
    for status in statuses:
        response = {
            "description": described[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            }
        responses[status] = response
    return responses


bp = APIBlueprint(
    "api",
    __name__,
    url_prefix=PREFIX,
    abp_security=[{"bearer": []}],
    abp_responses=error_responses(*_ERROR_STATUSES),
)
# The document and the reference page: public, outside the document itself.
docs_bp = Blueprint("api_docs", __name__, url_prefix=PREFIX)

TAGS = {name: Tag(name=name, description=description) for name, description in (
    ("Contacts", "People, their fields, subscriptions, lists and tags; deleting one erases all about them."),
    ("Lists and tags", "The account's lists and tags, and who is on them."),
    ("Activity", "Page views, of a contact or of the whole account over a time range."),
    ("Segments", "Segments and their members (evaluated by Footfall, read only here)."),
    ("Automations", "Automations; enrol a contact in one, or take them out."),
    ("Campaigns", "Campaigns and their report figures."),
    ("Events", "Custom events: what contacts did besides viewing pages, from your servers or the website."),
    ("Webhooks", "Receivers of the account's events, signed; their delivery logs."),
)}


@bp.before_request
def authenticate():
    """The key of the request, its account, scope, rate limit and body checks."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(
            401,
            "Send an API key: `Authorization: Bearer <key>` (Settings → API).",
            headers={"WWW-Authenticate": 'Bearer realm="footfall"'},
        )
    key = api_keys.authenticate(secret.strip())
    if key is None:
        # (Keys are 256 random bits: guessing one is hopeless, and a wrong one costs the lookup of a
        # unique index, like any request.)
        raise ApiError(
            401,
            "This API key is wrong or revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="footfall", error="invalid_token"'},
        )
    g.api_key_id, g.account_id = key.id, key.account_id
    if request.method not in ("GET", "HEAD", "OPTIONS") and not api_keys.may_write(key):
        raise ApiError(403, "This key is read only: create a read and write key in Settings → API.")
    _limit(key.id)
    if request.method in ("POST", "PUT", "PATCH"):
        _check_body()


def _limit(key_id: int) -> None:
    """Requests per key and minute, counted in Redis (every web process shares the count). Without
    Redis the request is served: the limit protects the instance, it does not guard data."""
    per_minute = current_app.config["API_REQUESTS_PER_MINUTE"]
    now = time.time()
    window = int(now // 60)
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.incr(f"footfall:api:rate:{key_id}:{window}")
        pipe.expire(f"footfall:api:rate:{key_id}:{window}", 120)
        count = pipe.execute()[0]
    except RedisError:
        log.warning("API rate limit not counted: Redis is unreachable")
        return
    if count > per_minute:
        raise ApiError(
            429,
            f"This key made more than {per_minute} requests this minute.",
            headers={"Retry-After": str(max(1, int(60 - now % 60)))},
        )


def _check_body() -> None:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "The body is larger than 2 MB: send fewer items at a time.")
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY_BYTES:
        raise ApiError(413, "The body is larger than 2 MB: send fewer items at a time.")
    if not data.strip():
        return  # (a route that needs a body answers 422 for its missing fields)
    if not request.is_json:
        raise ApiError(400, "Send JSON, with `Content-Type: application/json`.")
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        raise ApiError(400, "The body is not valid JSON.") from None


# Pagination -------------------------------------------------------------------------------------


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"i{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the next page starts (0: the first page)."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw[:1] == "i" and raw[1:].isdigit() and len(raw) < 12:
            return int(raw[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(400, "This cursor is not one the API gave: pass `next_cursor` as it came.", "cursor")


def page_of(statement, id_column, cursor: str | None, limit: int):
    """One page of rows of a select ordered by id, and the cursor of the next page (None: the last)."""
    after = decode_cursor(cursor)
    rows = list(db.session.execute(statement.where(id_column > after).order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(_row_id(rows[-1])) if more and rows else None)


def _row_id(row) -> int:
    first = row[0]
    return first if isinstance(first, int) else first.id


# Answers of writes, and idempotency -------------------------------------------------------------


def account_id() -> int:
    return g.account_id


def _idempotency() -> tuple[str, str, str] | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ApiError(400, "An Idempotency-Key is 1 to 255 printable characters.", "Idempotency-Key")
    return key, f"{request.method} {request.path}"[:300], hashlib.sha256(request.get_data()).hexdigest()


def replayed():
    """The answer kept for this POST's Idempotency-Key, if it was sent before (None otherwise); a
    key sent before with another request is refused."""
    found = _idempotency()
    if found is None:
        return None
    key, what, body_hash = found
    kept = db.session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.account_id == account_id(), IdempotentRequest.key == key
        )
    )
    if kept is None:
        return None
    if kept.request != what or kept.body_hash != body_hash:
        raise ApiError(
            422,
            "This Idempotency-Key was sent with another request: use a new key for a new request.",
            "Idempotency-Key",
        )
    return current_app.response_class(
        kept.response,
        status=kept.status,
        mimetype="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def conflict():
    """After an IntegrityError (rolled back here): the answer kept for this request's
    Idempotency-Key, which a request sent meanwhile committed; else a 409 (it took the same email,
    say)."""
    db.session.rollback()
    kept = replayed() if request.method == "POST" else None
    if kept is None:
        raise ApiError(409, "This conflicts with a change made meanwhile: try again.")
    return kept


def keep(model: BaseModel, status: int, *, contact_id: int | None = None):
    """Keep the answer of a creating POST for its Idempotency-Key, in the request's transaction,
    flushed now: a second request with the key, sent meanwhile, waits for this one or conflicts
    (and gets the kept answer). None, or the kept answer of a request that came first."""
    found = _idempotency() if request.method == "POST" else None
    if found is None or g.get("api_kept"):
        return None
    key, what, body_hash = found
    db.session.add(IdempotentRequest(account_id=account_id(), key=key, request=what, body_hash=body_hash,
                                     status=status, response=model.model_dump_json(), contact_id=contact_id))
    try:
        db.session.flush()
    except IntegrityError:
        return conflict()
    g.api_kept = True
    return None


def answer(model: BaseModel, status: int = 200, *, contact_id: int | None = None, headers=None,
           kept_as: BaseModel | None = None):
    """Commit the request's changes and answer with the model (a creating POST's answer kept for
    its Idempotency-Key in the same transaction; `kept_as`: what a replay shows instead, without a
    secret shown once). Nothing is created twice."""
    if (first := keep(kept_as or model, status, contact_id=contact_id)) is not None:
        return first
    try:
        db.session.commit()
    except IntegrityError:
        return conflict()
    return current_app.response_class(model.model_dump_json(), status=status, mimetype="application/json",
                                      headers=headers or {})


def no_content():
    db.session.commit()
    return current_app.response_class(status=204)


def load_routes() -> None:
    """Import the route modules (they register on `bp`)."""
    from app.api import contacts, events, lists, reads, webhooks  # noqa: F401
