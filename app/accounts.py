"""Registration, sign-in, and the slow-down of repeated failed sign-ins and of sign-up floods."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import Account, User
from app.queues import get_redis
from app.ratelimit import AttemptCounter, wait_in_words

MIN_PASSWORD_LENGTH = 10
# A real hash to compare against when the email is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("footfall-no-such-user")
# Failed sign-ins per email; sign-up attempts per client address (each attempt, not only the
# successful ones: the form also tells whether an email has an account).
_LOGIN_FAILURES = AttemptCounter("login-failures")
_SIGN_UPS = AttemptCounter("sign-ups")
SIGN_UP_WINDOW_SECONDS = 3600


class AccountError(ValueError):
    """Shown to the person signing up or in, as is, beside the field it is about."""

    def __init__(self, message: str, field: str = "email"):
        super().__init__(message)
        self.field = field


class TooManyAttempts(AccountError):
    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def normalise_email(raw: str) -> str:
    try:
        return validate_email((raw or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise AccountError("Enter a valid email address.") from None


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def register(email: str, password: str, account_name: str = "") -> User:
    email = normalise_email(email)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", "password")
    if find_user(email):
        raise AccountError("An account with this email already exists. Sign in instead.")
    account = Account(name=(account_name or "").strip()[:200] or email.split("@", 1)[1])
    user = User(account=account, email=email, password_hash=generate_password_hash(password))
    db.session.add_all([account, user])
    db.session.flush()
    return user


def count_sign_up(client_address: str) -> None:
    """Count a sign-up attempt from a client address; past REGISTER_MAX_PER_HOUR, refuse it."""
    redis = get_redis()
    wait = _SIGN_UPS.refused_for(redis, client_address, current_app.config["REGISTER_MAX_PER_HOUR"])
    if wait:
        raise TooManyAttempts(f"Too many sign-ups from your network. Try again in {wait_in_words(wait)}.", wait)
    _SIGN_UPS.count(redis, client_address, SIGN_UP_WINDOW_SECONDS)


def authenticate(email: str, password: str) -> User:
    """Return the user, or raise AccountError; after repeated failures, refuse for a while."""
    email = (email or "").strip().lower()
    redis = get_redis()
    wait = _LOGIN_FAILURES.refused_for(redis, email, current_app.config["LOGIN_MAX_FAILURES"])
    if wait:
        raise TooManyAttempts(f"Too many failed sign-in attempts. Try again in {wait_in_words(wait)}.", wait)
    user = find_user(email) if email else None
    if not check_password_hash(user.password_hash if user else _DUMMY_HASH, password or ""):
        _LOGIN_FAILURES.count(redis, email, current_app.config["LOGIN_LOCK_SECONDS"])
        raise AccountError("That email and password do not match an account.")
    _LOGIN_FAILURES.clear(redis, email)
    return user
