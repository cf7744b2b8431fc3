"""Signed-in sessions the server can end.

Signing in stores a UserSession row and keeps a random token in the (signed) Flask session
cookie; the row keeps only the token's SHA-256. A request is signed in only while its token names
a live row of its user: signed in less than SESSION_MAX_DAYS ago and seen within
SESSION_IDLE_HOURS. Signing out deletes the row, so a cookie copied before it signs nobody in.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import ColumnElement, delete, not_, select, update

from app.extensions import db
from app.models import User, UserSession
from app.models.types import utcnow

TOKEN_KEY = "footfall_session"
# last_seen_at is written when it is older than this, not on every request.
TOUCH_EVERY = timedelta(minutes=1)
MAX_USER_AGENT = 200


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _live(now: datetime) -> ColumnElement[bool]:
    """The sessions that still sign their browser in at `now`."""
    config = current_app.config
    return ((UserSession.created_at > now - timedelta(days=config["SESSION_MAX_DAYS"]))
            & (UserSession.last_seen_at > now - timedelta(hours=config["SESSION_IDLE_HOURS"])))


def sign_in(user: User) -> None:
    """Sign this browser in as `user`, in a new session (committed by the caller), and delete the
    user's sessions that have ended, so expired rows do not pile up. Whatever the browser's
    session held before (its CSRF secret, which someone may have planted) is dropped."""
    end_this_browser()
    session.clear()
    now = utcnow()
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id, not_(_live(now))))
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=_hash(token), created_at=now, last_seen_at=now,
                               user_agent=(request.user_agent.string or "")[:MAX_USER_AGENT]))
    session[TOKEN_KEY] = token
    login_user(user)


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user, if this browser's token names a live session of theirs."""
    token = session.get(TOKEN_KEY)
    if not token or not user_id.isdigit():
        return None
    now = utcnow()
    found = db.session.execute(
        select(UserSession.id, UserSession.last_seen_at, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _hash(token), UserSession.user_id == int(user_id), _live(now))
    ).first()
    if found is None:
        return None
    session_id, last_seen_at, user = found
    if now - last_seen_at >= TOUCH_EVERY:
        # In a transaction of its own: the request's session may never commit (a GET).
        with db.engine.begin() as connection:
            connection.execute(update(UserSession).where(UserSession.id == session_id)
                               .values(last_seen_at=now))
    return user


def this_browser_hash() -> str | None:
    token = session.get(TOKEN_KEY)
    return _hash(token) if token else None


def end_this_browser() -> None:
    """Delete this browser's session, if it has one (committed by the caller)."""
    token = session.pop(TOKEN_KEY, None)
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))


def sign_out() -> None:
    end_this_browser()
    logout_user()
    session.clear()


def end_all(user: User, *, keep_this_browser: bool = False) -> int:
    """End every session of `user` (but this browser's, if asked); returns how many ended."""
    query = delete(UserSession).where(UserSession.user_id == user.id)
    kept = this_browser_hash() if keep_this_browser else None
    if kept:
        query = query.where(UserSession.token_hash != kept)
    return db.session.execute(query).rowcount


def sign_out_everywhere(user: User) -> int:
    ended = end_all(user)
    logout_user()
    session.clear()
    return ended


def live_sessions(user: User) -> list[UserSession]:
    """The user's sessions that still sign a browser in, the most recently seen first."""
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id, _live(utcnow()))
                                   .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))
