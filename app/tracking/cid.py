"""The `cid` token carried by links in emails and SMS: who clicked, from which message.

Authenticated encryption (AES-256-GCM), so the token reveals nothing about the contact and any
change to it is detected. Layout before base64url (no padding):

    version (1) | key id (1) | nonce (12) | ciphertext of the payload (25) | tag (16)   = 55 bytes

payload = account id (u32) | contact id (u64) | message id (u64) | channel (u8) | issued at (u32 s).
The result is 74 characters. Keys come from CID_KEYS (the first encrypts, every one decrypts, so a
key can be rotated out), or are derived from SECRET_KEY when CID_KEYS is unset.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from app.extensions import per_app

VERSION = 1
_PAYLOAD = struct.Struct(">IQQBI")
_HEADER = 2
_NONCE = 12
_TAG = 16
MAX_TOKEN_LENGTH = 100
_AAD = b"footfall-cid"

CHANNELS = {"email": 1, "sms": 2, "test": 3, "automation_email": 4, "automation_sms": 5}
_CHANNEL_NAMES = {number: name for name, number in CHANNELS.items()}
# Issue times are whole seconds, and the web and worker machines' clocks may differ a little.
ISSUE_TIME_TOLERANCE = timedelta(seconds=5)


@dataclass(frozen=True)
class CidClaims:
    account_id: int
    contact_id: int
    message_id: int
    channel: str
    issued_at: int

    @property
    def issued(self) -> datetime:
        return datetime.fromtimestamp(self.issued_at, timezone.utc)


def _b64decode(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def derive_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"footfall",
                info=b"cid v1").derive(secret_key.encode())


def parse_keys(cid_keys: str, secret_key: str) -> list[bytes]:
    """The configured keys, first one first; each must be 32 bytes of base64url."""
    if not cid_keys.strip():
        return [derive_key(secret_key)]
    keys = []
    for raw in cid_keys.split(","):
        try:
            key = _b64decode(raw.strip())
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ValueError("each CID_KEYS entry must be 32 random bytes in base64url "
                             "(`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
        keys.append(key)
    return keys


def new_key() -> str:
    return encode_key(os.urandom(32))


def encode_key(key: bytes) -> str:
    """A key as CID_KEYS lists it: base64url without padding."""
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def _key_id(key: bytes) -> int:
    return hashlib.sha256(key).digest()[0]


class CidCodec:
    """AES-256-GCM with the configured keys: cid tokens, and the other link tokens that must reveal
    nothing (click and unsubscribe links, app/messaging/tokens.py). Each purpose has its own
    associated data, so a token made for one is refused as another."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("at least one cid key is needed")
        self.keys = [(_key_id(key), AESGCM(key)) for key in keys]

    def seal(self, purpose: bytes, data: bytes) -> str:
        """`data` encrypted for `purpose`: version | key id | nonce | ciphertext | tag, base64url."""
        key_id, aead = self.keys[0]
        header = bytes([VERSION, key_id])
        nonce = os.urandom(_NONCE)
        return base64.urlsafe_b64encode(
            header + nonce + aead.encrypt(nonce, data, purpose + header)).decode().rstrip("=")

    def unseal(self, purpose: bytes, token: str | None, max_length: int) -> bytes | None:
        """The data of an intact token sealed for `purpose` with one of our keys, else None."""
        if not token or not isinstance(token, str) or len(token) > max_length:
            return None
        try:
            raw = _b64decode(token)
        except (binascii.Error, ValueError):
            return None
        if len(raw) < _HEADER + _NONCE + _TAG or raw[0] != VERSION:
            return None
        header, nonce, sealed = raw[:_HEADER], raw[_HEADER:_HEADER + _NONCE], raw[_HEADER + _NONCE:]
        # The key id picks the key at once; the others are tried too, as ids can collide.
        for _key_id, aead in sorted(self.keys, key=lambda item: item[0] != raw[1]):
            try:
                return aead.decrypt(nonce, sealed, purpose + header)
            except InvalidTag:
                continue
        return None

    def encrypt(self, claims: CidClaims) -> str:
        return self.seal(_AAD, _PAYLOAD.pack(claims.account_id, claims.contact_id, claims.message_id,
                                             CHANNELS[claims.channel], claims.issued_at))

    def decrypt(self, token: str | None) -> CidClaims | None:
        """The claims of an intact token made with one of our keys; None for anything else."""
        payload = self.unseal(_AAD, token, MAX_TOKEN_LENGTH)
        if payload is None or len(payload) != _PAYLOAD.size:
            return None
        account_id, contact_id, message_id, channel, issued_at = _PAYLOAD.unpack(payload)
        if channel not in _CHANNEL_NAMES:
            return None
        return CidClaims(account_id, contact_id, message_id, _CHANNEL_NAMES[channel], issued_at)


def codec() -> CidCodec:
    """The app's codec, built once from its configuration."""
    return per_app("footfall.cid", lambda: CidCodec(parse_keys(current_app.config["CID_KEYS"],
                                                                current_app.config["SECRET_KEY"])))


def make_cid(account_id: int, contact_id: int, message_id: int = 0, channel: str = "email",
             issued_at: int | None = None) -> str:
    return codec().encrypt(CidClaims(account_id, contact_id, message_id, channel,
                                     int(time.time()) if issued_at is None else issued_at))


def read_cid(token: str | None) -> CidClaims | None:
    return codec().decrypt(token)


def issued_to_contact(issued_at: datetime, contact_created_at: datetime | None) -> bool:
    """Whether a link (a cid, a click token) issued at `issued_at` can be for the contact created at
    `contact_created_at`: a link issued before the contact existed was made for an erased contact
    who had the same id (SQLite gives a new row the highest id a deleted one had), and identifies
    nobody. A contact that does not exist (None) is never identified."""
    return contact_created_at is not None and issued_at >= contact_created_at - ISSUE_TIME_TOLERANCE
