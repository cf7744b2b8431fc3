"""Signed public links (itsdangerous): click redirects, unsubscribe links, permanent URLs.
Signed, not encrypted: they carry no secret, and any change to them is refused."""
from __future__ import annotations

from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer


def _serializer(purpose: str) -> URLSafeSerializer:
    return _cached_serializer(current_app.config["SECRET_KEY"], purpose)


@lru_cache(maxsize=32)
def _cached_serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    # Built once per key and purpose: the click redirect is a hot path.
    return URLSafeSerializer(secret_key, salt=f"footfall-{purpose}")


def sign(purpose: str, payload) -> str:
    return _serializer(purpose).dumps(payload)


def unsign(purpose: str, token: str):
    """The payload of an intact token made for this purpose, else None."""
    try:
        return _serializer(purpose).loads(token)
    except (BadSignature, UnicodeDecodeError, ValueError, TypeError):
        return None
