"""Phone numbers of contacts, stored in E.164 (+14155550123)."""
from __future__ import annotations

import re

from app.contacts.errors import ContactError

PHONE_FORMAT = "Enter a phone number in international format, such as +14155550123."
_PHONE_CHARACTERS = re.compile(r"\+?[0-9 ().\-]+")
# Countries whose national numbers keep their leading 0 after the country code (Italy's landlines).
_KEEP_LEADING_ZERO = {"39"}


def normalise_phone(raw: str, default_country_code: str = "1") -> str:
    """A phone number in E.164 (+14155550123), or "" for an empty one.

    "+44 20 7946 0958" and "0044 20 7946 0958" are international; a number without + or 00 is
    national to `default_country_code` ("(415) 555-0123" → +14155550123; with "44", "020 7946 0958"
    → +442079460958, its trunk 0 dropped). Spaces, dashes, dots and parentheses are ignored.
    Raises ContactError for anything else, for fewer than 8 or more than 15 digits, and for a +1
    number without its 10 digits."""
    text = (raw or "").strip()
    if not text:
        return ""
    if not _PHONE_CHARACTERS.fullmatch(text):
        raise ContactError(PHONE_FORMAT, "phone")
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    elif default_country_code == "1" and len(digits) == 11 and digits.startswith("1"):
        number = digits  # 1 415 555 0123: the country code is already there
    else:
        if digits.startswith("0") and default_country_code not in _KEEP_LEADING_ZERO:
            digits = digits[1:]
        number = default_country_code + digits
    if not 8 <= len(number) <= 15 or number.startswith("0"):
        raise ContactError(PHONE_FORMAT, "phone")
    if number.startswith("1") and len(number) != 11:
        # Every US and Canadian number has 10 digits after the 1 ("555-0123" lacks its area code).
        raise ContactError(PHONE_FORMAT, "phone")
    return "+" + number
