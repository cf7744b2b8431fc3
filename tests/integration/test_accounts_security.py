"""Who may sign up, sessions the server can end, password reset and change, sign-in throttling
per client address, and where signing in may send the browser (issue 12)."""
import re
import time
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select, update
from werkzeug.security import generate_password_hash

from app import accounts
from app.extensions import db
from app.models import Email, User, UserSession
from app.models.types import utcnow
from tests.conftest import PASSWORD, Auth, make_user

NEW_PASSWORD = "a brand new passphrase"
ADDRESS_A = "203.0.113.10"
ADDRESS_B = "198.51.100.20"


def users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def login(client, email="owner@shop.example", password=PASSWORD, address=None, **extra):
    environ = {"REMOTE_ADDR": address} if address else {}
    return client.post("/login", data={"email": email, "password": password}, environ_base=environ, **extra)


def signed_in_client(app, email="owner@shop.example"):
    client = app.test_client()
    assert Auth(client).login(email).status_code == 302
    return client


def set_session_times(**times) -> None:
    db.session.execute(update(UserSession).values(**times))
    db.session.commit()


# Point 6: registration closed by default.

@pytest.fixture
def closed(app_config):
    app_config["REGISTRATION"] = "closed"


def test_a_closed_instance_lets_its_first_account_sign_up_and_then_no_one(closed, app):
    first = app.test_client().post("/register", data={"email": "owner@shop.example", "password": PASSWORD})
    assert first.status_code == 302 and users() == 1

    page = app.test_client().get("/register")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Sign-up is closed on this instance" in text and "ask its operator" in text
    assert 'name="password"' not in text

    refused = app.test_client().post("/register", data={"email": "spam@bots.example", "password": PASSWORD})
    assert refused.status_code == 403
    assert users() == 1


def test_sign_ups_arriving_together_on_an_empty_closed_instance_make_one_owner(closed, app):
    from concurrent.futures import ThreadPoolExecutor

    def sign_up(n):
        return app.test_client().post("/register", data={"email": f"first{n}@shop.example",
                                                         "password": PASSWORD}).status_code
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(sign_up, range(6)))
    assert sorted(answers) == [302] + [403] * 5
    assert users() == 1


def test_the_sign_in_page_offers_sign_up_only_while_it_is_open(closed, app, user):
    text = app.test_client().get("/login").get_data(as_text=True)
    assert "Create an account" not in text and 'href="/register"' not in text
    app.config["REGISTRATION"] = "open"
    assert 'href="/register"' in app.test_client().get("/login").get_data(as_text=True)


def test_the_operator_creates_an_account_with_a_command(closed, app, user):
    result = app.test_cli_runner().invoke(args=["create-account", "Ann@Bakery.example", "--name", "Bakery"],
                                          input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Created the account “Bakery” with the user ann@bakery.example" in result.output
    assert PASSWORD not in result.output
    assert login(app.test_client(), "ann@bakery.example").status_code == 302


@pytest.mark.parametrize("email, password, message", [
    ("Owner@shop.example", PASSWORD, "owner@shop.example already has an account; `flask reset-password"),
    ("not-an-email", PASSWORD, "Enter a valid email address."),
    ("new@shop.example", "qwerty123456", "one of the 10,000 most common"),
    ("new@shop.example", "short", "at least 12 characters"),
])
def test_create_account_explains_what_it_refuses(app, user, email, password, message):
    result = app.test_cli_runner().invoke(args=["create-account", email], input=f"{password}\n{password}\n")
    assert result.exit_code != 0
    assert message in result.output
    assert users() == 1


# Point 8: sessions the server can end.

def test_a_cookie_copied_before_sign_out_no_longer_signs_in(app, auth):
    copied = auth.client.get_cookie("session").value
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert signed_in(replay)

    auth.logout()
    replay = app.test_client()
    replay.set_cookie("session", copied)
    response = replay.get("/contacts/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_session_ends_after_its_idle_time(app, auth):
    idle = timedelta(hours=app.config["SESSION_IDLE_HOURS"])
    set_session_times(last_seen_at=utcnow() - idle + timedelta(minutes=5))
    assert signed_in(auth.client)  # and seen now: the idle time starts again
    set_session_times(last_seen_at=utcnow() - idle - timedelta(minutes=1))
    response = auth.client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_session_in_use_ends_after_its_lifetime(app, auth):
    lifetime = timedelta(days=app.config["SESSION_MAX_DAYS"])
    set_session_times(created_at=utcnow() - lifetime + timedelta(minutes=5))
    assert signed_in(auth.client)
    set_session_times(created_at=utcnow() - lifetime - timedelta(minutes=1))
    assert not signed_in(auth.client)


def test_last_seen_is_written_at_most_once_a_minute(app, auth):
    seen = utcnow() - timedelta(seconds=30)
    set_session_times(last_seen_at=seen)
    assert signed_in(auth.client)
    assert db.session.scalar(select(UserSession.last_seen_at)) == seen

    set_session_times(last_seen_at=seen - timedelta(minutes=1))
    assert signed_in(auth.client)
    db.session.expire_all()
    assert db.session.scalar(select(UserSession.last_seen_at)) > utcnow() - timedelta(seconds=10)


def test_signing_in_deletes_the_users_ended_sessions(app, auth, user):
    set_session_times(created_at=utcnow() - timedelta(days=app.config["SESSION_MAX_DAYS"] + 1))
    ended = db.session.scalar(select(UserSession.token_hash))
    db.session.rollback()
    signed_in_client(app)
    live = db.session.scalars(select(UserSession.token_hash)).all()
    assert len(live) == 1 and ended not in live


def test_the_account_page_lists_where_the_user_is_signed_in(app, auth):
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = "Firefox on the shop laptop"
    assert Auth(other).login().status_code == 302

    assert 'href="/account"' in auth.client.get("/").get_data(as_text=True)
    page = auth.client.get("/account")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Firefox on the shop laptop" in text
    assert text.count("(this browser)") == 1
    assert "Sign out everywhere" in text


def test_sign_out_everywhere_ends_every_session(app, auth):
    laptop = signed_in_client(app)
    response = auth.client.post("/account/sign-out-everywhere")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "signed out everywhere" in auth.client.get("/login").get_data(as_text=True)
    assert not signed_in(auth.client)
    assert not signed_in(laptop)


def test_the_account_page_needs_a_signed_in_user(client):
    assert "/login" in client.get("/account").headers["Location"]


# Point 9: password change and reset.

def change_password(client, current=PASSWORD, new=NEW_PASSWORD, confirmation=None):
    confirmation = new if confirmation is None else confirmation
    return client.post("/account/password",
                       data={"current_password": current, "password": new, "confirmation": confirmation})


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, auth):
    laptop = signed_in_client(app)
    response = change_password(auth.client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    assert "Your password is changed. 1 other session signed out." in auth.client.get("/account").get_data(
        as_text=True)
    assert signed_in(auth.client)
    assert not signed_in(laptop)
    assert login(app.test_client()).status_code == 422
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 302


def test_a_password_change_gives_this_browser_a_new_session_so_a_copy_of_its_cookie_stops_working(app, auth):
    copy = app.test_client()
    copy.set_cookie("session", auth.client.get_cookie("session").value)
    assert signed_in(copy)
    assert change_password(auth.client).status_code == 302
    assert signed_in(auth.client) and not signed_in(copy)


def test_signing_in_drops_what_the_browser_held_before(app, user):
    """A CSRF secret planted before sign-in (from a sibling subdomain, say) does not survive it."""
    client = app.test_client()
    with client.session_transaction() as planted:
        planted["csrf_token"] = "planted-by-someone-else"
    assert login(client).status_code == 302
    with client.session_transaction() as after:
        assert after.get("csrf_token") != "planted-by-someone-else"


@pytest.mark.parametrize("form, message", [
    (dict(current="wrong password!"), "That is not your current password."),
    (dict(confirmation="a brand new passphrase?"), "The two passwords differ"),
    (dict(new="1q2w3e4r5t6y"), "This password is one of the 10,000 most common; choose another."),
    (dict(new="too short"), "at least 12 characters"),
])
def test_a_password_change_explains_what_it_refuses(app, auth, form, message):
    response = change_password(auth.client, **form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert login(app.test_client()).status_code == 302  # the password is as it was


def ask_for_reset(client, email="owner@shop.example", address=None):
    return client.post("/forgot-password", data={"email": email},
                       environ_base={"REMOTE_ADDR": address} if address else {})


def reset_path(email: Email) -> str:
    return re.search(r"https://footfall\.test(/reset-password\?token=\S+)", email.text_body).group(1)


def test_the_sign_in_page_links_to_password_reset(client):
    text = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in text and "Forgot your password?" in text


def test_a_reset_request_answers_the_same_for_an_unknown_address(client, user, run_jobs):
    from app.queues import DEFAULT, get_queue

    known = ask_for_reset(client)
    unknown = ask_for_reset(client, "nobody@shop.example")
    assert known.status_code == unknown.status_code == 200
    known_text = known.get_data(as_text=True).replace("owner@shop.example", "ADDRESS")
    assert known_text == unknown.get_data(as_text=True).replace("nobody@shop.example", "ADDRESS")
    assert "If an account uses ADDRESS, we sent it a link" in known_text
    # Both requests did the same: one job each, which looks the address up; nothing else yet.
    jobs = [job.func_name for job in get_queue(DEFAULT).jobs]
    assert jobs == ["worker.jobs.accounts.send_password_reset"] * 2
    assert db.session.scalars(select(Email.id)).all() == []
    run_jobs()
    assert db.session.scalars(select(Email.to_address).where(Email.kind == "password_reset")).all() == \
        ["owner@shop.example"]


def test_a_reset_link_sets_a_new_password_once_and_signs_in_afresh(app, client, user, run_jobs):
    laptop = signed_in_client(app)
    ask_for_reset(client)
    run_jobs()
    email = db.session.scalar(select(Email).where(Email.kind == "password_reset"))
    assert email.status == "outbox" and email.subject == "Reset your Footfall password"
    path = reset_path(email)

    assert 'name="confirmation"' in client.get(path).get_data(as_text=True)
    mismatch = client.post(path, data={"password": NEW_PASSWORD, "confirmation": "something else entirely"})
    assert mismatch.status_code == 422 and "The two passwords differ" in mismatch.get_data(as_text=True)
    done = client.post(path, data={"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert "Your password is changed" in client.get("/").get_data(as_text=True)
    assert not signed_in(laptop)
    assert login(app.test_client()).status_code == 422
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 302

    again = app.test_client().post(path, data={"password": "yet another passphrase",
                                               "confirmation": "yet another passphrase"})
    assert again.status_code == 400
    assert "This link has expired or was already used" in again.get_data(as_text=True)
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 302


def test_a_reset_link_works_for_an_hour(app, client, user, monkeypatch):
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda signer: int(time.time()) - 3601)
    with app.test_request_context():
        expired = accounts.reset_link(user).removeprefix("https://footfall.test")
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    response = client.get(expired)
    assert response.status_code == 400
    assert "This link has expired or was already used" in response.get_data(as_text=True)
    assert 'name="password"' not in response.get_data(as_text=True)


def test_a_changed_password_voids_the_reset_links_sent_before(app, auth, user):
    with app.test_request_context():
        path = accounts.reset_link(user).removeprefix("https://footfall.test")
    assert app.test_client().get(path).status_code == 200
    change_password(auth.client)
    assert app.test_client().get(path).status_code == 400


def test_reset_requests_are_limited_per_email_and_per_address(app, user, run_jobs):
    for n in range(accounts.RESET_EMAILS_PER_HOUR + 1):
        assert ask_for_reset(app.test_client(), address=f"192.0.2.{n}").status_code == 200
    run_jobs()
    # The owner's inbox already holds the links sent this hour: no more are sent.
    assert len(db.session.scalars(select(Email.id)).all()) == accounts.RESET_EMAILS_PER_HOUR

    for n in range(accounts.RESET_REQUESTS_PER_HOUR):
        assert ask_for_reset(app.test_client(), f"someone{n}@else.example", ADDRESS_A).status_code == 200
    refused = ask_for_reset(app.test_client(), "someone@else.example", ADDRESS_A)
    assert refused.status_code == 429
    assert "Too many password reset requests from your network" in refused.get_data(as_text=True)
    assert 0 < int(refused.headers["Retry-After"]) <= 3600


def test_the_operator_resets_a_password_with_a_command(app, auth, user):
    result = app.test_cli_runner().invoke(args=["reset-password", "owner@shop.example"],
                                          input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Changed the password of owner@shop.example; 1 session signed out." in result.output
    assert not signed_in(auth.client)
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("email, password, message", [
    ("nobody@shop.example", NEW_PASSWORD, "No user has the email nobody@shop.example"),
    ("owner@shop.example", "password1234", "one of the 10,000 most common"),
])
def test_reset_password_command_explains_what_it_refuses(app, user, email, password, message):
    result = app.test_cli_runner().invoke(args=["reset-password", email], input=f"{password}\n{password}\n")
    assert result.exit_code != 0
    assert message in result.output
    assert login(app.test_client()).status_code == 302


def test_a_short_old_password_still_signs_in_but_a_new_one_needs_twelve_characters(app):
    make_user("early@shop.example")
    db.session.execute(update(User).values(password_hash=generate_password_hash("ten chars!")))
    db.session.commit()
    client = app.test_client()
    assert login(client, "early@shop.example", "ten chars!").status_code == 302
    refused = change_password(client, current="ten chars!", new="eleven char")
    assert refused.status_code == 422 and "at least 12 characters" in refused.get_data(as_text=True)
    assert change_password(client, current="ten chars!").status_code == 302


# Point 10: sign-in throttling per client address.

def test_failures_from_one_address_do_not_lock_the_owner_out_from_another(app, user):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(app.test_client(), password="wrong password!", address=ADDRESS_A).status_code == 422
    refused = login(app.test_client(), address=ADDRESS_A)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert login(app.test_client(), address=ADDRESS_B).status_code == 302


def test_a_password_spray_from_one_address_is_slowed_down(app, user):
    for n in range(app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]):
        assert login(app.test_client(), f"guess{n}@shop.example", "Summer2026!", ADDRESS_A).status_code == 422
    refused = login(app.test_client(), address=ADDRESS_A)  # the right password of another account
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.get_data(as_text=True)
    assert login(app.test_client(), address=ADDRESS_B).status_code == 302


def test_guesses_from_one_ipv6_network_count_as_one_address(app, user):
    """One customer of a provider gets a whole /64: a fresh address for each guess must not help."""
    for n in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(app.test_client(), password="Summer2026!",
                     address=f"2001:db8:5:7::{n + 1:x}").status_code == 422
    assert login(app.test_client(), address="2001:db8:5:7:ffff::1").status_code == 429
    assert login(app.test_client(), address="2001:db8:5:8::1").status_code == 302  # another network


def test_parallel_guesses_cannot_all_pass_before_any_is_counted(app, user):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: login(app.test_client(), password=f"wrong guess {n}",
                                                address=ADDRESS_A).status_code, range(16)))
    assert answers.count(422) == app.config["LOGIN_MAX_FAILURES"] and answers.count(429) == 11


def test_the_outbox_never_shows_a_password_reset_email(app, auth, user, run_jobs):
    """Anyone signed in to the account (a stolen session) could otherwise take the link and set
    the password without knowing it."""
    ask_for_reset(app.test_client())
    run_jobs()
    reset = db.session.scalar(select(Email).where(Email.kind == "password_reset"))
    assert reset is not None
    assert "Reset your Footfall password" not in auth.client.get("/outbox/").get_data(as_text=True)
    assert auth.client.get(f"/outbox/{reset.id}").status_code == 404
    assert auth.client.get(f"/outbox/{reset.id}/html").status_code == 404


# Point 11: where signing in may send the browser.

def test_signing_in_returns_only_to_a_page_of_this_site(app, user):
    for target in ["/\t/evil.example", "/\n/x", "//evil.example", "/\\evil.example", "https://evil.example",
                   "javascript:alert(1)", "/\u2028/evil.example", " /contacts"]:
        response = login(app.test_client(), query_string={"next": target})
        assert (response.status_code, response.headers["Location"]) == (302, "/"), target
    kept = login(app.test_client(), query_string={"next": "/contacts?page=2"})
    assert kept.headers["Location"] == "/contacts?page=2"


@pytest.mark.parametrize("path", ["/login", "/register", "/forgot-password", "/reset-password?token=x",
                                  "/account/password", "/settings/tracking/send"])
def test_a_json_or_file_body_in_place_of_a_form_gets_no_500(app, auth, path):
    import io

    def bodies():
        yield {"json": {"email": 1, "password": ["x"], "recipients": {"a": 1}, "current_password": 5}}
        yield {"data": {"email": (io.BytesIO(b"x"), "e.txt"), "recipients": (io.BytesIO(b"y"), "r.txt")},
               "content_type": "multipart/form-data"}

    for client in (auth.client, app.test_client()):
        for body in bodies():
            assert client.post(path, **body).status_code < 500, (path, body)
