"""The rules every new password follows (sign-up, reset, change, the operator's commands)."""
import pytest

from app.accounts import AccountError, check_new_password


@pytest.mark.parametrize("password", ["footfall-demo", "correct horse battery", "twelve chars"])
def test_the_demo_and_test_passwords_and_twelve_characters_are_accepted(password):
    check_new_password(password)
    check_new_password(password, confirmation=password)


def test_a_password_under_twelve_characters_is_refused():
    with pytest.raises(AccountError, match="at least 12 characters") as refused:
        check_new_password("eleven char")
    assert refused.value.field == "password"


@pytest.mark.parametrize("password", ["qwerty123456", "Q1W2E3R4T5Y6", "1qaz2wsx3EDC", "password1234",
                                      " qazwsxedcrfv "])
def test_the_most_common_passwords_are_refused_whatever_their_case(password):
    with pytest.raises(AccountError) as refused:
        check_new_password(password)
    assert str(refused.value) == "This password is one of the 10,000 most common; choose another."
    assert refused.value.field == "password"


def test_only_the_10000_most_common_are_refused():
    # Line 10,000 of the list is "desmond1", too short anyway; "supernatural" is among Django's
    # 20,000 but not the first 10,000.
    check_new_password("supernatural")


def test_a_confirmation_that_differs_is_refused():
    with pytest.raises(AccountError, match="The two passwords differ") as refused:
        check_new_password("correct horse battery", confirmation="correct horse battery!")
    assert refused.value.field == "confirmation"
