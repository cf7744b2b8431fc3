"""API keys (Settings → API): created with a name and a scope, shown once, stored hashed, revoked at
once. The REST API (app/api/) finds a request's key with authenticate()."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update

from app.extensions import db
from app.models.api import ApiKey, ApiScope, IdempotentRequest
from app.models.types import utcnow

PREFIX = "ff_"
# The answer to a creating POST is kept this long for its Idempotency-Key.
IDEMPOTENCY_HOURS = 24
MAX_KEYS = 50
# last_used_at is written when it is older than this, not on every request.
TOUCH_EVERY = timedelta(minutes=1)


class ApiKeyError(ValueError):
    def __init__(self, message: str, field: str = "name"):
        super().__init__(message)
        self.field = field


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def account_keys(account_id: int) -> list[ApiKey]:
    """The account's keys, live ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiKey)
            .where(ApiKey.account_id == account_id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
        )
    )


def get_key(account_id: int, key_id: int) -> ApiKey | None:
    return db.session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.account_id == account_id))


def create_key(
    account_id: int, name: str, scope: str, created_by_id: int | None = None
) -> tuple[ApiKey, str]:
    """A new key and its secret (the only time it is seen: only its hash is stored)."""
    name = " ".join((name or "").split())
    if not name:
        raise ApiKeyError("Name the key after the program that will use it, for example “Shop”.")
    if len(name) > 100:
        raise ApiKeyError("Keep the name under 100 characters.")
    if scope not in (ApiScope.READ, ApiScope.WRITE):
        raise ApiKeyError("Choose read, or read and write.", "scope")
    live = db.session.scalar(
        select(db.func.count())
        .select_from(ApiKey)
        .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
    )
    if live >= MAX_KEYS:
        raise ApiKeyError(f"An account has at most {MAX_KEYS} live keys: revoke one you no longer use.")
    secret = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        account_id=account_id,
        name=name,
        scope=scope,
        prefix=secret[:10],
        key_hash=_hash(secret),
        created_by_id=created_by_id,
    )
    db.session.add(key)
    db.session.flush()
    return key, secret


def revoke(key: ApiKey) -> None:
    """From now on the key is refused (every request looks it up)."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.flush()


def authenticate(secret: str) -> ApiKey | None:
    """The live key with this secret, its last use recorded (at most once a minute); None if there
    is none. The caller commits."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.key_hash == _hash(secret), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        db.session.execute(
            update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
    return key


def may_write(key: ApiKey) -> bool:
    return key.scope == ApiScope.WRITE


def forget_old_answers(now=None) -> int:
    """Delete the answers kept for idempotency keys once a day old; how many."""
    cutoff = (now or utcnow()) - timedelta(hours=IDEMPOTENCY_HOURS)
    count = db.session.execute(delete(IdempotentRequest)
                               .where(IdempotentRequest.created_at < cutoff)).rowcount
    db.session.commit()
    return count
