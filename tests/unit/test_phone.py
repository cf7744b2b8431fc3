import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.contacts.errors import ContactError
from app.contacts.phones import PHONE_FORMAT, normalise_phone


@pytest.mark.parametrize("typed, stored", [
    ("+44 20 7946 0958", "+442079460958"),
    ("(415) 555-0123", "+14155550123"),
    ("415.555.0123", "+14155550123"),
    ("1 415 555 0123", "+14155550123"),
    ("+1 (415) 555-0123", "+14155550123"),
    ("0044 20 7946 0958", "+442079460958"),
    ("00442079460958", "+442079460958"),
    ("  +14155550123  ", "+14155550123"),
    ("+49-30-901820", "+4930901820"),
    ("+861012345678901", "+861012345678901"),  # 15 digits: the longest E.164 number
])
def test_numbers_are_stored_in_e164(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize("typed, country, stored", [
    ("020 7946 0958", "44", "+442079460958"),  # the national trunk 0 is not part of E.164
    ("030 901820", "49", "+4930901820"),
    ("06 1234 5678", "39", "+390612345678"),  # Italian numbers keep their 0
    ("+1 415 555 0123", "44", "+14155550123"),
])
def test_national_numbers_take_the_default_country_code(typed, country, stored):
    assert normalise_phone(typed, default_country_code=country) == stored


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_is_no_number(empty):
    assert normalise_phone(empty) == ""


@pytest.mark.parametrize("typed", [
    "call me", "415-555-CALL", "+1 415 555 0123 ext 4", "tel:+14155550123",  # letters
    "12345", "+4412345",  # fewer than 8 digits
    "555-0123", "+1 555 0123 4",  # +1 numbers have 10 digits after the 1
    "+1234567890123456", "00 1234 5678 9012 3456",  # more than 15 digits
    "+44 20 7946 0958 / 0959", "++44 20 7946 0958", "44+2079460958", "+0 20 7946 0958",
])
def test_other_input_is_refused_with_the_format_hint(typed):
    with pytest.raises(ContactError) as refused:
        normalise_phone(typed)
    assert (str(refused.value) == PHONE_FORMAT
            == "Enter a phone number in international format, such as +14155550123.")
    assert refused.value.field == "phone"


@given(st.text(max_size=30))
def test_any_input_gives_e164_or_the_format_error(typed):
    try:
        stored = normalise_phone(typed)
    except ContactError as error:
        assert error.field == "phone"
    else:
        assert stored == "" or (stored[0] == "+" and stored[1:].isdigit() and 8 <= len(stored) - 1 <= 15
                                and stored[1] != "0")
        assert normalise_phone(stored) == stored  # idempotent
