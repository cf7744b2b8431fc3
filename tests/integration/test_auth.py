import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import Account, User
from tests.conftest import PASSWORD, Auth, base_config, make_user


def test_register_creates_an_account_and_signs_in(client):
    response = client.post("/register", data={"account_name": "Bakery", "email": "Ann@Bakery.example",
                                              "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/settings/tracking")
    user = db.session.scalar(select(User))
    assert user.email == "ann@bakery.example"
    assert user.password_hash != PASSWORD and PASSWORD not in user.password_hash
    assert db.session.scalar(select(Account)).name == "Bakery"
    assert client.get("/settings/tracking").status_code == 200


@pytest.mark.parametrize("form, message", [
    ({"email": "not-an-email", "password": PASSWORD}, "valid email"),
    ({"email": "a@b.example", "password": "elevenchars"}, "at least 12 characters"),
])
def test_register_rerenders_with_errors(client, form, message):
    response = client.post("/register", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(User)) is None


def test_register_refuses_a_taken_email(client, user):
    response = client.post("/register", data={"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_login_and_logout(client, user):
    auth = Auth(client)
    assert auth.login().status_code == 302
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    response = client.get("/settings/tracking")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_is_refused(client, user):
    response = Auth(client).login(password="wrong password!")
    assert response.status_code == 422
    assert "do not match" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/settings/tracking", "/outbox/", "/settings/tracking/status"])
def test_pages_need_a_signed_in_user(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/login", "/register", "/help/install", "/legal/tracking-terms"])
def test_public_pages_are_public(client, path):
    assert client.get(path).status_code == 200


def test_repeated_failed_logins_are_slowed_down(client, user, app):
    auth = Auth(client)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert auth.login(password="wrong password!").status_code == 422
    refused = auth.login()  # even the right password waits now
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.get_data(as_text=True)


def test_login_redirects_only_to_this_site(client, user):
    response = client.post("/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_session_cookie_is_http_only_and_lax(client, user):
    response = Auth(client).login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_state_changes_need_the_csrf_token(database_url, redis_url):
    app = create_app(base_config(database_url, redis_url, WTF_CSRF_ENABLED=True))
    with app.app_context():
        try:
            make_user()
            client = app.test_client()
            response = client.post("/login", data={"email": "owner@shop.example", "password": PASSWORD})
            assert response.status_code == 400
            assert "CSRF" in response.get_data(as_text=True)
        finally:
            db.session.remove()
            from tests.conftest import empty_database
            empty_database()


def test_pages_send_security_headers(client):
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in response.headers["Vary"]
