"""The one rule for the address every link Footfall makes points to (click, unsubscribe and web
version links in emails and SMS, the embed code, the served script's beacon endpoint), whatever
makes it: a request, a campaign job, an automation step.

PUBLIC_URL when the operator set it (production requires it). Without it, in development, a
guess: the address a signed-in user last reached the app at (written at most once a minute by
each web process), remembered in Redis so that jobs use the same one as requests; before any such
visit, or once Redis has lost it, http://127.0.0.1:5000. Settings warns while it is a guess.
"""
from __future__ import annotations

import re
import time

from flask import current_app, request
from redis.exceptions import RedisError

from app.extensions import per_app
from app.queues import get_redis

GUESS_KEY = "footfall:public_url_guess"
LOCAL_PUBLIC_URL = "http://127.0.0.1:5000"
REMEMBER_EVERY_SECONDS = 60.0
# What a guess may be: a scheme and a host name or address, with a port.
_ADDRESS = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")


def public_url() -> str:
    configured = current_app.config["PUBLIC_URL"]
    if configured:
        return configured
    try:
        guess = get_redis().get(GUESS_KEY)
    except RedisError:
        guess = None
    return guess.decode() if guess else LOCAL_PUBLIC_URL


def is_guess() -> bool:
    """Whether links are built from a guess (PUBLIC_URL is not set)."""
    return not current_app.config["PUBLIC_URL"]


def _remembered() -> dict:
    return per_app("footfall.public_url_guess", dict)


def remember_request_url() -> None:
    """A signed-in user's request: without PUBLIC_URL, its address becomes the guess (written to
    Redis when it changes, and again a minute later, not on every request). An address that is
    not a plain scheme, host and port is never a guess."""
    if current_app.config["PUBLIC_URL"]:
        return
    url = request.url_root.rstrip("/")
    remembered, now = _remembered(), time.monotonic()
    if (remembered.get("url") == url and now - remembered.get("at", 0.0) < REMEMBER_EVERY_SECONDS) \
            or not _ADDRESS.fullmatch(url):
        return
    try:
        get_redis().set(GUESS_KEY, url)
    except RedisError:
        return  # try again on the next request
    remembered.update(url=url, at=now)
