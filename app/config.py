"""Infrastructure settings, read from environment variables with safe embedded defaults.

Per-account product settings live in the database, not here (docs/architecture.md, convention 9).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEV_SECRET_KEY = "footfall-development-secret-do-not-use-in-production"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("FOOTFALL_INSTANCE", PROJECT_ROOT / "instance"))
LOG_LEVELS = ("debug", "info", "warning", "error")
# FOOTFALL_ENV: unset means production, so that an instance started without a deliberate
# development setting (which `make run` and the tests make) is safe on the open internet.
ENVIRONMENTS = ("production", "development")


def _delays(setting: str) -> list[int]:
    """"10,60,300" as [10, 60, 300]."""
    return [int(delay) for delay in setting.split(",") if delay.strip()]


class ConfigError(RuntimeError):
    """The environment asks for something the app refuses to run with."""


@dataclass
class Settings:
    ENV: str = "production"
    SECRET_KEY: str = DEV_SECRET_KEY
    DATABASE_URL: str = f"sqlite:///{INSTANCE_DIR / 'footfall.db'}"
    REDIS_URL: str = f"unix://{INSTANCE_DIR / 'redis.sock'}"
    MAIL_URL: str = ""
    MAIL_FROM: str = "Footfall <no-reply@footfall.localhost>"
    PUBLIC_URL: str = ""
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    PROXY_COUNT: int = 0
    # Seconds between delivery attempts of an email; their count bounds the retries.
    MAIL_RETRY_DELAYS: str = "10,60,300"
    # A Twilio-compatible REST API: https://SID:TOKEN@api.twilio.com/2010-04-01?from=%2B15551234567
    SMS_URL: str = ""
    # Seconds between delivery attempts of an SMS; their count bounds the retries.
    SMS_RETRY_DELAYS: str = "10,60,300"
    # Comma-separated base64url AES-256 keys for cid tokens: the first encrypts, all decrypt.
    CID_KEYS: str = ""
    # Beacons per second accepted from one address and for one site, per web process.
    INGEST_RATE_PER_ADDRESS: int = 20
    INGEST_RATE_PER_SITE: int = 2000
    # A stream entry left unacknowledged this long by a consumer (killed mid-batch) is taken over.
    EVENTS_CLAIM_IDLE_MS: int = 30_000
    MESSAGE_JOB_TIMEOUT: int = 120
    # Failed sign-ins for one email from one client address before that pair waits LOGIN_LOCK_SECONDS;
    # failed sign-ins from one address (any email) before it waits LOGIN_LOCK_SECONDS.
    LOGIN_MAX_FAILURES: int = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS: int = 30
    LOGIN_LOCK_SECONDS: int = 300
    # A signed-in session ends after this many hours without a request, and this many days after sign-in.
    SESSION_IDLE_HOURS: int = 12
    SESSION_MAX_DAYS: int = 14
    # "open": anyone may sign up; "closed": only the first account (the instance's owner) may, and
    # the operator adds others with `flask create-account`. Empty: open in development, else closed.
    REGISTRATION: str = ""
    # When set, GET /metrics needs "Authorization: Bearer <token>".
    METRICS_TOKEN: str = ""
    # In production /metrics answers 404 unless METRICS_TOKEN is set or this is 1 (a private network).
    METRICS_PUBLIC: int = 0
    # "Send to developer" emails per account and hour, and addresses per email.
    DEVELOPER_EMAILS_PER_HOUR: int = 10
    DEVELOPER_EMAIL_MAX_RECIPIENTS: int = 3
    # Seconds a CSV import job may run (the largest file allowed takes well under a minute).
    IMPORT_JOB_TIMEOUT: int = 1800
    # "json" or "text"; empty: json in production, text otherwise.
    LOG_FORMAT: str = ""
    # debug, info, warning or error (any case): the least severe records logged. Empty: warning.
    LOG_LEVEL: str = "warning"
    # Sign-up attempts accepted from one client address per hour.
    REGISTER_MAX_PER_HOUR: int = 10
    # Click and short-link redirects per second (bursts of 10x) from one address, per web process.
    REDIRECT_RATE_PER_ADDRESS: int = 10
    # Seconds between the tries of a webhook call ("Call a webhook" steps): about a day in all.
    WEBHOOK_RETRY_DELAYS: str = "60,300,1800,3600,7200,14400,28800,28800"
    # Seconds one try of a webhook call may take, connecting and answering.
    WEBHOOK_TIMEOUT: int = 10
    # A "Notify the team" step emails about one contact at most once in this many minutes.
    TEAM_NOTIFY_MINUTES: int = 60
    # Team emails ("Notify the team" steps) per account and hour: the instance's sender address must
    # not become anyone's mass mailer.
    TEAM_NOTIFY_PER_HOUR: int = 200
    # REST API requests per key and minute (app/api/): past it, 429 with Retry-After.
    API_REQUESTS_PER_MINUTE: int = 1200
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        settings = cls()
        for name, default in asdict(cls()).items():
            # (ENV is read from FOOTFALL_ENV only: a shell's own ENV must not make an instance a
            # development one.)
            if name in ("extra", "ENV") or name not in environ:
                continue
            raw = environ[name]
            setattr(settings, name, int(raw) if isinstance(default, int) else raw)
        if "FOOTFALL_ENV" in environ:
            settings.ENV = environ["FOOTFALL_ENV"]
        return settings

    @property
    def is_production(self) -> bool:
        return self.ENV != "development"

    @property
    def log_format(self) -> str:
        return self.LOG_FORMAT or ("json" if self.is_production else "text")

    @property
    def log_level(self) -> str:
        """LOG_LEVEL as the logging module names it ("WARNING"); ConfigError if it is not one."""
        level = (self.LOG_LEVEL or "warning").strip().lower()
        if level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (in any case), "
                              f"not {self.LOG_LEVEL!r}.")
        return level.upper()

    @property
    def registration(self) -> str:
        """REGISTRATION as "open" or "closed"; ConfigError for another value."""
        value = (self.REGISTRATION or ("closed" if self.is_production else "open")).strip().lower()
        if value not in ("open", "closed"):
            raise ConfigError(f"REGISTRATION must be open or closed, not {self.REGISTRATION!r}.")
        return value

    def check(self) -> None:
        if self.ENV not in ENVIRONMENTS:
            raise ConfigError(f"FOOTFALL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.ENV!r} "
                              "(unset means production).")
        if self.log_format not in ("json", "text"):
            raise ConfigError("LOG_FORMAT must be json or text.")
        self.log_level  # noqa: B018 (raises ConfigError for an unknown level)
        self.registration  # noqa: B018 (raises ConfigError for an unknown value)
        if self.is_production and (not self.SECRET_KEY or self.SECRET_KEY == DEV_SECRET_KEY):
            raise ConfigError(
                "Footfall runs in production unless FOOTFALL_ENV=development, and production needs a "
                "real SECRET_KEY (for example "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
            )
        if self.is_production and len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production.")
        if self.is_production and not self.PUBLIC_URL.strip():
            # Without it, the address links and the embed code point to would be guessed from
            # requests, whose Host header anyone signed in to any account chooses.
            raise ConfigError("Production (FOOTFALL_ENV unset or production) needs PUBLIC_URL, the app's "
                              "public address (for example https://track.example.com).")

    def flask_config(self) -> dict:
        database_url = self.DATABASE_URL
        if database_url.startswith("postgres://"):
            database_url = "postgresql://" + database_url[len("postgres://"):]
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        # Every setting under its own name, as it was read; the ones below as the app uses them.
        config = {name: value for name, value in asdict(self).items()
                  if name not in ("extra", "ENV", "DATABASE_URL")}
        config |= {
            "FOOTFALL_ENV": self.ENV,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "MAIL_RETRY_DELAYS": _delays(self.MAIL_RETRY_DELAYS),
            "SMS_RETRY_DELAYS": _delays(self.SMS_RETRY_DELAYS),
            "WEBHOOK_RETRY_DELAYS": _delays(self.WEBHOOK_RETRY_DELAYS),
            "PUBLIC_URL": self.PUBLIC_URL.rstrip("/"),
            "REGISTRATION": self.registration,
            "METRICS_PUBLIC": bool(self.METRICS_PUBLIC),
            "LOG_FORMAT": self.log_format,
            "LOG_LEVEL": self.log_level,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.is_production,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_SECURE": self.is_production,
            "WTF_CSRF_TIME_LIMIT": None,
            # The largest upload (a CSV import of 5 MB, with room for the form around it).
            "MAX_CONTENT_LENGTH": 6 * 1024 * 1024,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        }
        if database_url.startswith("sqlite"):
            config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
        else:
            # An unreachable database fails a request in seconds instead of hanging it.
            config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] = {"connect_timeout": 5}
        config.update(self.extra)
        return config
