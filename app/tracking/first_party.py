"""First-party mode: Footfall served through the website's own reverse proxy.

Browsers cap cookies written by scripts (Safari's Intelligent Tracking Prevention at 7 days, or a
day after a click from a tracker; Brave and Firefox's strict modes similarly), so a contact who
comes back after a week would be anonymous again. In first-party mode the website's server
forwards `/ff/t/<site key>.js`, `/ff/collect` and `/ff/forget` to Footfall, and the cookies are set
by `/collect`'s answer, from the website's own origin: HttpOnly, 13 months, refreshed at most once
a day. The script never stores anything; it sends the `cid` it found in the address once.

The proxy proves itself with the site's secret in PROXY_HEADER; only then is the visitor's
address taken from X-Forwarded-For (the last entry before the ones this instance's own proxies
added), for the per-address limits. Nothing here touches the database or Redis.
"""
from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass

from app.tracking.cid import read_cid

PROXY_HEADER = "X-Footfall-Proxy"
PATH_PREFIX = "/ff"
VISITOR_COOKIE = "_ff_vid"
IDENTITY_COOKIE = "_ff_id"
COOKIE_LIFETIME = 396 * 24 * 3600  # 13 months, in seconds
DAY = 24 * 3600
# The install check's probe of a proxy (app/tracking/proxy_check.py): the cookie it sends, and the
# headers /collect answers it with.
PROBE_COOKIE_NAME = "_ff_probe"
PROBE_VERDICT = "Footfall-Proxy-Check"  # verified, standard, or why a beacon would be refused
PROBE_COOKIE = "Footfall-Proxy-Cookie"  # received | missing
# The cookies of Footfall's on a website: the only ones read from a proxied request.
OWN_COOKIES = (VISITOR_COOKIE, IDENTITY_COOKIE, PROBE_COOKIE_NAME)
# The only endpoints a proxied request may reach: a website's proxy never exposes the app's pages.
PROXIED_ENDPOINTS = frozenset({"ingest.tracking_script", "ingest.collect", "ingest.forget"})

_ID = re.compile(r"[A-Za-z0-9_-]{8,64}\Z")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,100}\Z")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Proxied:
    """What a request that came through a website's proxy says about itself."""

    secret: str  # PROXY_HEADER's value
    forwarded_for: str  # X-Forwarded-For
    cookies: dict  # the visitor's cookies on the website, as the proxy passed them on


# Why first-party beacons are refused (counted per site; the setup status shows their sum).
PROXY_REFUSALS = ("proxy_missing", "proxy_secret", "proxy_address")


def proof_problem(proxied: Proxied | None, site_secret: str) -> str | None:
    """Why a first-party beacon is refused (a reason counted per site), or None: the proxy sent
    this site's secret. A site's secret is never empty once it is in first-party mode."""
    if proxied is None or not proxied.secret:
        return "proxy_missing"
    if not site_secret or not hmac.compare_digest(proxied.secret.encode(), site_secret.encode()):
        return "proxy_secret"
    return None


def client_address(forwarded_for: str, own_proxies: int) -> str | None:
    """The visitor's address as the website's proxy saw it: the last X-Forwarded-For entry before
    the `own_proxies` this instance's load balancers appended; None if there is none or it is not
    an IP address."""
    entries = [entry.strip() for entry in (forwarded_for or "").split(",") if entry.strip()]
    if own_proxies:
        entries = entries[:-own_proxies]
    if not entries:
        return None
    try:
        return str(ipaddress.ip_address(entries[-1]))
    except ValueError:
        return None


def proven_visitor(proxied: Proxied | None, site_secret: str, own_proxies: int) -> tuple[str | None, str]:
    """(None, the visitor's address) for a request the website's proxy has proved, else (why not,
    ""): the secret missing or wrong, or no readable visitor address."""
    problem = proof_problem(proxied, site_secret)
    if problem:
        return problem, ""
    client = client_address(proxied.forwarded_for, own_proxies)
    return (None, client) if client else ("proxy_address", "")


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    max_age: int


@dataclass(frozen=True)
class Identity:
    visitor: str  # the visitor id the page view is stored with
    cid: str  # the identity token it is stored with ("" for anonymous)
    cookies: tuple[Cookie, ...]  # to set in the answer: none when nothing changed today


def today(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // DAY)


def _visitor_cookie(value: str | None) -> tuple[str | None, int | None]:
    """(visitor id, the day it was last set) from `_ff_vid`: "<id>.<day>"; a value the script of
    standard mode wrote (an id alone) is kept and set again."""
    visitor, _, day = (value or "").partition(".")
    if not _ID.match(visitor):
        return None, None
    return visitor, int(day) if day.isascii() and day.isdigit() and len(day) < 8 else None


def identify(cookies: dict, arrived_cid: str, account_id: int, now: float | None = None) -> Identity:
    """The visitor and identity of a first-party page view, and the cookies to set.

    A `cid` that arrived with the page (a click from a message) replaces the browser's identity
    if it is a valid token of this account; anything else (tampered, another account's) leaves
    the browser as it was. Cookies are set again when the visitor is new, an identity arrived,
    or they were last set on an earlier day, so a returning visitor keeps them for 13 months
    after their last visit with at most one Set-Cookie a day."""
    day = today(now)
    visitor, set_on = _visitor_cookie(cookies.get(VISITOR_COOKIE))
    kept = cookies.get(IDENTITY_COOKIE) or ""
    identity = kept if _TOKEN.match(kept) else ""
    changed = visitor is None or set_on != day or identity != kept
    if arrived_cid and arrived_cid != identity:
        claims = read_cid(arrived_cid)
        if claims is not None and claims.account_id == account_id:
            identity, changed = arrived_cid, True
    visitor = visitor or secrets.token_urlsafe(16)
    if not changed:
        return Identity(visitor, identity, ())
    set_again = [Cookie(VISITOR_COOKIE, f"{visitor}.{day}", COOKIE_LIFETIME)]
    if identity or kept:  # (set, or an unreadable one cleared)
        set_again.append(Cookie(IDENTITY_COOKIE, identity, COOKIE_LIFETIME if identity else 0))
    return Identity(visitor, identity, tuple(set_again))


FORGET = (Cookie(VISITOR_COOKIE, "", 0), Cookie(IDENTITY_COOKIE, "", 0))
