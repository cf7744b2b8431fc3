"""The cid token: encrypted, authenticated, short, rotatable."""
import base64
import string

import pytest
from hypothesis import given, settings, strategies as st

from app.tracking.cid import MAX_TOKEN_LENGTH, CidClaims, CidCodec, derive_key, new_key, parse_keys

KEY_A = base64.urlsafe_b64decode(new_key() + "=")
KEY_B = base64.urlsafe_b64decode(new_key() + "=")
URL_SAFE = set(string.ascii_letters + string.digits + "-_")

claims_strategy = st.builds(
    CidClaims,
    account_id=st.integers(0, 2**32 - 1),
    contact_id=st.integers(0, 2**64 - 1),
    message_id=st.integers(0, 2**64 - 1),
    channel=st.sampled_from(["email", "sms", "test"]),
    issued_at=st.integers(0, 2**32 - 1),
)


@given(claims_strategy)
def test_round_trip_url_safe_short_and_opaque(claims):
    token = CidCodec([KEY_A]).encrypt(claims)
    assert CidCodec([KEY_A]).decrypt(token) == claims
    assert set(token) <= URL_SAFE and "=" not in token
    assert len(token) <= MAX_TOKEN_LENGTH
    raw = base64.urlsafe_b64decode(token + "==")
    for value in (claims.contact_id, claims.account_id):
        if value > 0xFFFF:  # short values appear in any random bytes; long ones must not leak
            assert value.to_bytes(8, "big").lstrip(b"\0") not in raw


@settings(max_examples=200)
@given(claims_strategy, st.integers(0, 73), st.integers(1, 255))
def test_any_changed_byte_identifies_nobody(claims, position, flip):
    codec = CidCodec([KEY_A])
    raw = bytearray(base64.urlsafe_b64decode(codec.encrypt(claims) + "=="))
    raw[position % len(raw)] ^= flip
    assert codec.decrypt(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")) is None


@given(st.text(max_size=200))
def test_garbage_identifies_nobody(text):
    assert CidCodec([KEY_A]).decrypt(text) is None


@given(claims_strategy, st.integers(1, 60))
def test_truncated_tokens_identify_nobody(claims, cut):
    token = CidCodec([KEY_A]).encrypt(claims)
    assert CidCodec([KEY_A]).decrypt(token[:-cut]) is None


def test_the_same_claims_give_different_tokens():
    claims = CidClaims(1, 2, 3, "email", 1_700_000_000)
    codec = CidCodec([KEY_A])
    assert codec.encrypt(claims) != codec.encrypt(claims)


def test_rotation_old_tokens_work_until_their_key_is_removed():
    claims = CidClaims(1, 2, 3, "sms", 1_700_000_000)
    old_token = CidCodec([KEY_A]).encrypt(claims)
    rotated = CidCodec([KEY_B, KEY_A])
    assert rotated.decrypt(old_token) == claims
    new_token = rotated.encrypt(claims)
    assert CidCodec([KEY_B]).decrypt(new_token) == claims
    assert CidCodec([KEY_B]).decrypt(old_token) is None  # old key removed: old links identify nobody


def test_keys_from_configuration():
    key = new_key()
    assert parse_keys(f"{key}, {new_key()}", "secret")[0] == base64.urlsafe_b64decode(key + "=")
    assert parse_keys("", "secret") == [derive_key("secret")]
    assert parse_keys("", "secret") != parse_keys("", "other secret")
    with pytest.raises(ValueError, match="32 random bytes"):
        parse_keys("too-short", "secret")
