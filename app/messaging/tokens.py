"""Signed public links (itsdangerous): click redirects, unsubscribe links, permanent URLs.
Signed, not encrypted: they carry no secret, and any change to them is refused."""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"footfall-{purpose}")


def sign(purpose: str, payload) -> str:
    return _serializer(purpose).dumps(payload)


def unsign(purpose: str, token: str):
    """The payload of an intact token made for this purpose, else None."""
    try:
        return _serializer(purpose).loads(token)
    except (BadSignature, UnicodeDecodeError, ValueError, TypeError):
        return None
