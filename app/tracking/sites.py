"""What each web process knows of the tracked sites: site keys resolved to sites and kept with
the version in Redis they were read at (raised by every change in Settings), and the counts of
beacons dropped per site and reason, which the setup status shows."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import after_commit, db
from app.models import TrackingSite
from app.queues import get_redis
from app.tracking.urls import site_host

log = logging.getLogger(__name__)

# How long a process keeps a site whose version it could not check (Redis lost it, or a change
# could not be announced): then it reads the site again.
SITE_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class SiteInfo:
    site_id: int
    account_id: int
    host: str
    enabled: bool
    respect_privacy_signals: bool = True
    first_party: bool = False
    proxy_secret: str = ""
    identify_secret: str = ""  # verified identify is off while it is ""


# A site key the database could not be asked about (it was unreachable).
UNAVAILABLE = object()
OUTAGE_RETRY_SECONDS = 15.0
# Each site's version, raised whenever Settings changes what beacons and the script depend on
# (tracking on or off, the website, privacy signals): one HGET a beacon tells every web process
# whether what it keeps is still current.
SITE_VERSIONS = "footfall:site_versions"


class SiteUnavailable(Exception):
    """The database cannot say what a site key is right now."""


class SiteCache:
    """Site keys resolved to sites, kept per web process with the version in Redis they were read
    at: a change made in Settings reaches every process before the next beacon, with no database
    query per beacon. The time limit only covers a version lost with Redis's data."""

    def __init__(self, ttl: float = SITE_CACHE_SECONDS):
        self.ttl = ttl
        self._entries: dict[str, tuple[float, bytes | None, object]] = {}
        self._lock = threading.Lock()

    def get(self, site_key: str, redis=None) -> SiteInfo | None:
        """The site, or None for an unknown key; with `redis`, as of the site's current version
        (a RedisError goes to the caller)."""
        return self.current(site_key, redis.hget(SITE_VERSIONS, site_key) if redis is not None else None)

    def knows(self, site_key: str) -> bool:
        """Whether this process has an answer for the key, current or not (no look-up needed)."""
        return site_key in self._entries

    def kept(self, site_key: str) -> tuple[bytes | None, SiteInfo] | None:
        """(version, site) as this process keeps a known site, current or not; None if it keeps none."""
        entry = self._entries.get(site_key)
        if entry and entry[0] > time.monotonic() and isinstance(entry[2], SiteInfo):
            return entry[1], entry[2]
        return None

    def current(self, site_key: str, version: bytes | None) -> SiteInfo | None:
        """The site as of `version` (read again from the database if this process keeps another),
        or None for an unknown key (remembered as unknown for a while too). While the database is
        unreachable, a site seen before is still served from the cache (beacons keep being
        accepted; the worker stores them once the database is back); SiteUnavailable for one
        never seen."""
        now = time.monotonic()
        entry = self._entries.get(site_key)
        if entry and entry[0] > now and (entry[1] == version or entry[2] is UNAVAILABLE):
            if entry[2] is UNAVAILABLE:
                raise SiteUnavailable(site_key)
            return entry[2]
        try:
            site = db.session.scalar(select(TrackingSite).where(TrackingSite.site_key == site_key))
        except SQLAlchemyError:
            db.session.rollback()
            # Ask the database again in a while, not on every beacon (each try may take seconds).
            known = entry[2] if entry else UNAVAILABLE  # (UNAVAILABLE again, if it was)
            self._keep(site_key, version, known, time.monotonic() + OUTAGE_RETRY_SECONDS)
            if known is UNAVAILABLE:
                raise SiteUnavailable(site_key) from None
            return known
        info = SiteInfo(site.id, site.account_id, site_host(site.website_url), site.enabled,
                        site.respect_privacy_signals, site.first_party, site.proxy_secret,
                        site.identify_secret) if site else None
        self._keep(site_key, version, info, now + self.ttl)
        return info

    def _keep(self, site_key: str, version: bytes | None, info, until: float) -> None:
        with self._lock:
            if len(self._entries) > 10_000:  # forget unknown keys first: they may be made up
                self._entries = {key: kept for key, kept in self._entries.items() if kept[2] is not None}
                if len(self._entries) > 10_000:
                    self._entries.clear()
            self._entries[site_key] = (until, version, info)


def site_changed(session, site_key: str, site_id: int, *, website_changed: bool = False) -> None:
    """Once the session commits: raise the site's version, so every web process reads it again
    before its next beacon; a new website also starts its "pages outside the website" count
    afresh."""
    def announce():
        try:
            with get_redis().pipeline(transaction=False) as pipe:
                pipe.hincrby(SITE_VERSIONS, site_key, 1)
                if website_changed:
                    pipe.hdel(dropped_key(site_id), "foreign_host")
                pipe.execute()
        except RedisError:  # the change is saved; web processes read it again within SITE_CACHE_SECONDS
            log.warning("could not tell the web processes that site %s changed", site_id, exc_info=True)

    after_commit(session, announce)


DROPPED_TTL = 7 * 24 * 3600


def dropped_key(site_id: int) -> str:
    """The hash of a site's dropped beacons, counted by reason."""
    return f"footfall:dropped:{site_id}"


def count_dropped(pipe, site_id: int, reason: str) -> None:
    """Count a dropped beacon by site and reason (the setup status shows them); the counts fade a
    week after the last drop."""
    key = dropped_key(site_id)
    pipe.hincrby(key, reason, 1)
    pipe.expire(key, DROPPED_TTL)


def dropped_counts(redis, site_id: int) -> dict[str, int]:
    # (A correction made just as the count was restarted can leave it at -1 for a moment.)
    counts = redis.hgetall(dropped_key(site_id))
    return {key.decode(): max(0, int(value)) for key, value in counts.items()}
