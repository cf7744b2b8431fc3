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
        create_app({"ENV": "production", "SECRET_KEY": "x" * 48, "DATABASE_URL": "sqlite://",
                    "PUBLIC_URL": ""})


def test_without_footfall_env_the_app_runs_as_production_and_refuses_the_development_secret():
    settings = Settings.from_environ({"SECRET_KEY": DEV_SECRET_KEY, "PUBLIC_URL": "https://t.example"})
    assert settings.is_production
    with pytest.raises(ConfigError, match="unless FOOTFALL_ENV=development"):
        settings.check()


def test_an_unknown_footfall_env_is_refused_with_the_valid_values():
    for value in ("prod", "Production", "staging", ""):
        settings = Settings.from_environ({"FOOTFALL_ENV": value, "SECRET_KEY": "x" * 48,
                                          "PUBLIC_URL": "https://t.example"})
        with pytest.raises(ConfigError, match="FOOTFALL_ENV must be one of production, development"):
            settings.check()


def test_only_an_explicit_development_setting_allows_the_development_secret():
    settings = Settings.from_environ({"FOOTFALL_ENV": "development"})
    settings.check()
    assert settings.SECRET_KEY == DEV_SECRET_KEY and not settings.is_production


def test_registration_is_closed_in_production_and_open_in_development_unless_set():
    production = {"FOOTFALL_ENV": "production", "SECRET_KEY": "x" * 48, "PUBLIC_URL": "https://t.example"}
    assert Settings.from_environ(production).flask_config()["REGISTRATION"] == "closed"
    assert (Settings.from_environ({**production, "REGISTRATION": "open"}).flask_config()["REGISTRATION"]
            == "open")
    assert Settings.from_environ({"FOOTFALL_ENV": "development"}).flask_config()["REGISTRATION"] == "open"
    with pytest.raises(ConfigError, match="REGISTRATION must be open or closed"):
        Settings.from_environ({"FOOTFALL_ENV": "development", "REGISTRATION": "maybe"}).check()


def test_a_shells_own_env_variable_does_not_make_an_instance_a_development_one():
    settings = Settings.from_environ({"ENV": "development", "SECRET_KEY": DEV_SECRET_KEY,
                                      "PUBLIC_URL": "https://t.example"})
    assert settings.is_production
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings.check()
