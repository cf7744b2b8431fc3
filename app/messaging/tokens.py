"""The tokens in public links, made and read here only.

Click (`/c/`) and unsubscribe (`/u/`) tokens are encrypted with the cid keys (AES-256-GCM,
app/tracking/cid.py), so a forwarded message shows neither the account, campaign and contact ids
nor the destination, and any change to them is refused. Tokens of links sent before they were
encrypted (itsdangerous-signed, readable, with a "." in them) are still honoured. The permanent
web version (`/m/`) names only a campaign, which is public anyway: it stays signed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.tracking.cid import CHANNELS, codec

_CLICK = b"footfall-click"
_UNSUBSCRIBE = b"footfall-unsubscribe"
# A click token carries its destination: room for the longest link a message may hold.
MAX_TOKEN_LENGTH = 12_000


@dataclass(frozen=True)
class Click:
    account_id: int
    campaign_id: int | None
    contact_id: int | None
    channel: str
    destination: str
    email_id: int | None = None
    # Unix time after which the link no longer redirects: test sends' links only.
    expires: int | None = None


@dataclass(frozen=True)
class Unsubscribe:
    account_id: int
    contact_id: int
    channel: str
    issued_at: int | None = None  # links sent before issue times were added have none


def click_token(click: Click) -> str:
    payload = [click.account_id, click.campaign_id, click.contact_id, click.channel, click.destination,
               click.email_id]
    return _seal(_CLICK, payload + [click.expires] if click.expires is not None else payload)


def read_click_token(token: str) -> Click | None:
    payload = _read("click", _CLICK, token)
    # [account, campaign, contact, channel, destination, email, expires]; older links lack the
    # email, links that never expire the last.
    if not (isinstance(payload, list) and len(payload) in (5, 6, 7)):
        return None
    account_id, campaign_id, contact_id, channel, destination, *rest = payload
    email_id, expires = (rest + [None, None])[:2]
    if not (_is_id(account_id) and _is_id(campaign_id, optional=True) and _is_id(contact_id, optional=True)
            and channel in CHANNELS and isinstance(destination, str)
            and destination.startswith(("http://", "https://")) and _is_id(email_id, optional=True)
            and _is_id(expires, optional=True)):
        return None
    return Click(account_id, campaign_id, contact_id, channel, destination, email_id, expires)


def unsubscribe_token(unsubscribe: Unsubscribe) -> str:
    return _seal(_UNSUBSCRIBE, [unsubscribe.account_id, unsubscribe.contact_id, unsubscribe.channel,
                                unsubscribe.issued_at])


def read_unsubscribe_token(token: str) -> Unsubscribe | None:
    payload = _read("unsubscribe", _UNSUBSCRIBE, token)
    # [account, contact, channel, issue time]; the oldest signed links have no issue time.
    if not (isinstance(payload, list) and len(payload) in (3, 4)):
        return None
    account_id, contact_id, channel, *issued = payload
    if not (_is_id(account_id) and _is_id(contact_id) and channel in ("email", "sms")
            and all(isinstance(number, int) and not isinstance(number, bool) for number in issued)):
        return None
    return Unsubscribe(account_id, contact_id, channel, (issued or [None])[0])


def permanent_token(campaign_id: int) -> str:
    return sign("permanent", campaign_id)


def read_permanent_token(token: str) -> int | None:
    campaign_id = _unsign("permanent", token)
    return campaign_id if _is_id(campaign_id) else None


def _is_id(value, optional: bool = False) -> bool:
    if value is None:
        return optional
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _read(name: str, purpose: bytes, token: str):
    """The payload of an encrypted token, or of one signed before encryption (it has a ".")."""
    return _unsign(name, token) if "." in token else _unseal(purpose, token)


def _seal(purpose: bytes, payload: list) -> str:
    return codec().seal(purpose, json.dumps(payload, separators=(",", ":")).encode())


def _unseal(purpose: bytes, token: str):
    data = codec().unseal(purpose, token, MAX_TOKEN_LENGTH)
    try:
        return json.loads(data) if data is not None else None
    except ValueError:
        return None


def _serializer(purpose: str) -> URLSafeSerializer:
    return _cached_serializer(current_app.config["SECRET_KEY"], purpose)


@lru_cache(maxsize=32)
def _cached_serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    # Built once per key and purpose: the click redirect is a hot path.
    return URLSafeSerializer(secret_key, salt=f"footfall-{purpose}")


def sign(purpose: str, payload) -> str:
    """A signed (readable) token: the permanent web version's, and links sent before encryption."""
    return _serializer(purpose).dumps(payload)


def _unsign(purpose: str, token: str):
    try:
        return _serializer(purpose).loads(token)
    except (BadSignature, UnicodeDecodeError, ValueError, TypeError):
        return None
