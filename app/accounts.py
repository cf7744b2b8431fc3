"""Registration, sign-in, passwords (their rules, reset by email, change), and the slow-down of
repeated failed sign-ins, sign-up floods and reset requests."""
from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app import sessions, timezones
from app.extensions import db
from app.messaging.mail import queue_email
from app.models import Account, User
from app.public_url import public_url
from app.queues import enqueue_after_commit, get_redis
from app.ratelimit import AttemptCounter, client_key, wait_in_words

# For every new password; accounts made when it was 10 still sign in with theirs.
MIN_PASSWORD_LENGTH = 12
# The 10,000 most common passwords, lowercased (app/data/README.md says where they come from).
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt.gz"
COMMON_PASSWORD = "This password is one of the 10,000 most common; choose another."
# A real hash to compare against when the email is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("footfall-no-such-user")
# Failed sign-ins per (client address, email) and per client address, never per email alone: an
# attacker elsewhere cannot lock the owner out. Sign-up attempts per client address (each attempt,
# not only the successful ones: the form also tells whether an email has an account).
_LOGIN_FAILURES = AttemptCounter("login-failures")
_ADDRESS_LOGIN_FAILURES = AttemptCounter("login-failures-from")
_SIGN_UPS = AttemptCounter("sign-ups")
SIGN_UP_WINDOW_SECONDS = 3600
# Reset links: valid an hour; requests per client address and hour (past it, refused), and
# emails per address and hour (past it, none is sent: the inbox already has recent links).
RESET_SALT = "footfall.password-reset"
RESET_LINK_SECONDS = 3600
RESET_REQUESTS_PER_HOUR = 10
RESET_EMAILS_PER_HOUR = 3
_RESET_REQUESTS = AttemptCounter("reset-requests")
_RESET_EMAILS = AttemptCounter("reset-emails")
RESET_LINK_INVALID = "This link has expired or was already used. Ask for a new one."


class AccountError(ValueError):
    """Shown to the person signing up or in, as is, beside the field it is about."""

    def __init__(self, message: str, field: str = "email"):
        super().__init__(message)
        self.field = field


class InvalidResetLink(AccountError):
    def __init__(self):
        super().__init__(RESET_LINK_INVALID, "password")


class TooManyAttempts(AccountError):
    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def update_account(account: Account, *, name: str, time_zone: str) -> Account:
    """Rename the account and set its time zone; AccountError names the field that will not do."""
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise AccountError("Enter the account's name, under 200 characters.", "name")
    try:
        account.time_zone = timezones.check_zone(time_zone)
    except ValueError as error:
        raise AccountError(str(error), "time_zone") from None
    account.name = name
    return account


def normalise_email(raw: str) -> str:
    try:
        return validate_email((raw or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise AccountError("Enter a valid email address.") from None


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def check_new_password(password: str, confirmation: str | None = None) -> None:
    """Refuse a new password that is too short or too common, or a confirmation that differs."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", "password")
    if password.strip().lower() in common_passwords():
        raise AccountError(COMMON_PASSWORD, "password")
    if confirmation is not None and confirmation != password:
        raise AccountError("The two passwords differ. Type the same new password twice.", "confirmation")


def may_sign_up() -> bool:
    """Whether a visitor may create an account: the instance's first account (its owner's) always,
    others only while REGISTRATION is open; the operator adds them with `flask create-account`."""
    if current_app.config["REGISTRATION"] == "open":
        return True
    return db.session.scalar(select(Account.id).limit(1)) is None


def register(email: str, password: str, account_name: str = "") -> User:
    email = normalise_email(email)
    check_new_password(password)
    if find_user(email):
        raise AccountError("An account with this email already exists. Sign in instead.")
    account = Account(name=(account_name or "").strip()[:200] or email.split("@", 1)[1])
    user = User(account=account, email=email, password_hash=generate_password_hash(password))
    db.session.add_all([account, user])
    db.session.flush()
    return user


class SignUpClosed(AccountError):
    def __init__(self):
        super().__init__("Sign-up is closed on this instance.")


OWNER_SIGN_UP_KEY = "footfall:owner-sign-up"


def claim_sign_up() -> None:
    """Before a web sign-up commits: on a closed instance, only one first sign-up may go ahead
    (a claim in Redis, held a minute), so two arriving together cannot both become owners;
    SignUpClosed for the other."""
    if current_app.config["REGISTRATION"] == "open":
        return
    if not get_redis().set(OWNER_SIGN_UP_KEY, 1, nx=True, ex=60):
        raise SignUpClosed()


def count_sign_up(client_address: str) -> None:
    """Count a sign-up attempt from a client address; past REGISTER_MAX_PER_HOUR, refuse it."""
    wait = _SIGN_UPS.attempt(get_redis(), client_key(client_address),
                             current_app.config["REGISTER_MAX_PER_HOUR"],
                             SIGN_UP_WINDOW_SECONDS)
    if wait:
        raise TooManyAttempts(f"Too many sign-ups from your network. Try again in {wait_in_words(wait)}.",
                              wait)


def _password_attempt(email: str, client_address: str) -> tuple[str, str]:
    """Count a password check as it starts, for this email from this client address and for the
    address; TooManyAttempts past either limit. The (pair, address) keys it counted under."""
    config, redis = current_app.config, get_redis()
    address = client_key(client_address)
    pair = f"{address}/{email}"
    window = config["LOGIN_LOCK_SECONDS"]
    wait = max(_LOGIN_FAILURES.attempt(redis, pair, config["LOGIN_MAX_FAILURES"], window),
               _ADDRESS_LOGIN_FAILURES.attempt(redis, address, config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
                                               window))
    if wait:
        raise TooManyAttempts(f"Too many failed sign-in attempts. Try again in {wait_in_words(wait)}.", wait)
    return pair, address


def _password_was_right(pair: str, address: str) -> None:
    """The checked password was right: the pair starts afresh, and the address's count loses this
    attempt (not its failures: signing in to one's own account must not reset a spray's)."""
    redis = get_redis()
    _LOGIN_FAILURES.clear(redis, pair)
    _ADDRESS_LOGIN_FAILURES.forgive(redis, address)


def authenticate(email: str, password: str, client_address: str) -> User:
    """Return the user, or raise AccountError; after repeated failures for this email from this
    client address, or for any emails from it, refuse for a while."""
    email = (email or "").strip().lower()
    pair, address = _password_attempt(email, client_address)
    user = find_user(email) if email else None
    if not check_password_hash(user.password_hash if user else _DUMMY_HASH, password or ""):
        raise AccountError("That email and password do not match an account.")
    _password_was_right(pair, address)
    return user


def _set_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password)


def change_password(user: User, current: str, password: str, confirmation: str, client_address: str) -> int:
    """The signed-in user's new password, given their current one (wrong guesses count as failed
    sign-ins); every other session of theirs ends, and this browser gets a new one (a copy of its
    cookie stops working too). Returns how many others ended."""
    pair, address = _password_attempt(user.email.lower(), client_address)
    if not check_password_hash(user.password_hash, current or ""):
        raise AccountError("That is not your current password.", "current_password")
    _password_was_right(pair, address)
    check_new_password(password, confirmation)
    _set_password(user, password)
    ended = sessions.end_all(user, keep_this_browser=True)
    sessions.sign_in(user)
    return ended


def set_password(user: User, password: str) -> int:
    """The operator's new password for a user (`flask reset-password`); all their sessions end."""
    check_new_password(password)
    _set_password(user, password)
    return sessions.end_all(user)


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _password_fingerprint(user: User) -> str:
    """Changes whenever the password does (each hash has its own salt): a link works once."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def reset_link(user: User) -> str:
    token = _reset_serializer().dumps([user.id, _password_fingerprint(user)])
    # (Made by a job too, outside any request: the path is written out, not built by url_for.)
    return f"{public_url()}/reset-password?{urlencode({'token': token})}"


def request_password_reset(email: str, client_address: str) -> None:
    """Have a reset link emailed if an account uses this address. The request does the same for
    any address (rate limits in Redis, then one job enqueued once the caller commits), so neither
    its answer nor its time tells whether the address has an account: the job looks it up."""
    email = normalise_email(email)
    redis = get_redis()
    wait = _RESET_REQUESTS.attempt(redis, client_key(client_address), RESET_REQUESTS_PER_HOUR,
                                   RESET_LINK_SECONDS)
    if wait:
        raise TooManyAttempts("Too many password reset requests from your network. "
                              f"Try again in {wait_in_words(wait)}.", wait)
    if _RESET_EMAILS.attempt(redis, email, RESET_EMAILS_PER_HOUR, RESET_LINK_SECONDS):
        return
    enqueue_after_commit(db.session, "worker.jobs.accounts.send_password_reset", email)


def send_password_reset(email: str) -> bool:
    """The reset email for the account that uses this address, if one does (the job's work)."""
    user = find_user(email)
    if user is None:
        return False
    context = dict(user=user, link=reset_link(user), hours=RESET_LINK_SECONDS // 3600)
    queue_email(account_id=user.account_id, kind="password_reset", to_address=user.email,
                subject="Reset your Footfall password",
                text_body=render_template("auth/reset_email.txt", **context),
                html_body=render_template("auth/reset_email.html", **context))
    return True


def user_for_reset(token: str) -> User:
    """The user a reset link is for, while it is valid: under an hour old, password unchanged."""
    try:
        user_id, fingerprint = _reset_serializer().loads(token, max_age=RESET_LINK_SECONDS)
    except (BadData, TypeError, ValueError):
        raise InvalidResetLink() from None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or fingerprint != _password_fingerprint(user):
        raise InvalidResetLink()
    return user


def reset_password(token: str, password: str, confirmation: str) -> User:
    """Set the new password a valid reset link's owner chose; every session of theirs ends."""
    user = user_for_reset(token)
    check_new_password(password, confirmation)
    _set_password(user, password)
    sessions.end_all(user)
    return user
