import pytest

from app import create_app
from app.config import DEV_SECRET_KEY, ConfigError, Settings


def test_production_refuses_the_development_secret():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": DEV_SECRET_KEY, "DATABASE_URL": "sqlite://"})


def test_production_refuses_a_missing_secret_from_the_environment():
    settings = Settings.from_environ({"FOOTFALL_ENV": "production"})
    with pytest.raises(ConfigError):
        settings.check()


def test_production_cookies_are_secure_http_only_and_lax():
    app = create_app({"ENV": "production", "SECRET_KEY": "x" * 48, "DATABASE_URL": "sqlite://",
                      "PUBLIC_URL": "https://track.example.com"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_settings_come_from_the_environment():
    settings = Settings.from_environ({"DATABASE_URL": "postgres://u@db/footfall", "LOGIN_MAX_FAILURES": "7",
                                      "MAIL_URL": "smtp://mail:25", "PUBLIC_URL": "https://t.example/"})
    config = settings.flask_config()
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/footfall"
    assert config["LOGIN_MAX_FAILURES"] == 7
    assert config["MAIL_URL"] == "smtp://mail:25"
    assert config["PUBLIC_URL"] == "https://t.example"


def test_an_unknown_log_level_stops_the_app_from_starting():
    with pytest.raises(ConfigError, match=r"LOG_LEVEL must be one of debug, info, warning, error .*'loud'"):
        create_app({"LOG_LEVEL": "loud", "DATABASE_URL": "sqlite://"})


def test_production_refuses_to_guess_its_public_url():
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        create_app({"ENV": "production", "SECRET_KEY": "x" * 48, "DATABASE_URL": "sqlite://", "PUBLIC_URL": ""})
