"""The beacon's hot path: validate a page view, then hand it to Redis in one pipeline that reads
the site's version (is the site as this process knows it current?) and queues the view.

Nothing here writes the database or sets a cookie; workers store events in batches
(app/tracking/events.py). Outcomes are counted in memory and reach Redis with a beacon's own
command about once a second (app/metrics.py); nothing is logged per beacon.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import after_commit, db
from app.metrics import BEACON_ACCEPTED, BufferedCounts, series
from app.queues import get_redis
from app.models import TrackingSite
from app.ratelimit import RateLimiter, client_key
from app.streams import push_entry
from app.tracking.urls import host_matches, site_host

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024
EVENTS_STREAM = "footfall:events"
# How long a process keeps a site whose version it could not check (Redis lost it, or a change
# could not be announced): then it reads the site again.
SITE_CACHE_SECONDS = 10.0

_TOKEN = re.compile(r"[A-Za-z0-9_-]+\Z")  # (\Z: `$` would also accept a trailing newline)
# NUL and lone surrogates (JSON can escape them): no database stores them as text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_BOT = re.compile(r"bot|crawl|spider|slurp|curl/|wget|python-requests|httpclient|facebookexternalhit|"
                  r"preview|lighthouse|pingdom|uptime", re.I)

# field: (required, max length, pattern)
_FIELDS = {
    "k": (True, 32, _TOKEN),
    "u": (True, 2048, None),
    "v": (True, 64, _TOKEN),
    "e": (True, 64, _TOKEN),
    "t": (False, 2000, None),
    "r": (False, 2048, None),
    "c": (False, 100, _TOKEN),
}


class BeaconRejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class SiteInfo:
    site_id: int
    account_id: int
    host: str
    enabled: bool
    respect_privacy_signals: bool = True


def _is_page_address(url: str) -> bool:
    """An http(s) address with a host, and a host and port the worker can read back: no unclosed
    IPv6 bracket, no port out of range (either would fail the whole batch it is stored in)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it raises ValueError for a port out of range or not a number)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def parse_beacon(raw: bytes) -> dict:
    """A beacon's fields, checked for presence, type, length and form."""
    if len(raw) > MAX_BODY_BYTES:
        raise BeaconRejected(413, "too_large")
    try:
        beacon = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # (RecursionError: nested too deep)
        raise BeaconRejected(400, "invalid_json") from None
    if not isinstance(beacon, dict):
        raise BeaconRejected(400, "invalid_json")
    for name, (required, max_length, pattern) in _FIELDS.items():
        value = beacon.get(name)
        if value is None or value == "":
            if required:
                raise BeaconRejected(400, f"missing_{name}")
            beacon[name] = ""
            continue
        if not isinstance(value, str) or len(value) > max_length or (pattern and not pattern.match(value)) \
                or _UNSTORABLE.search(value):
            raise BeaconRejected(400, f"invalid_{name}")
    ts = beacon.get("ts")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, (int, float)) or not 0 <= ts < 1e14):
        raise BeaconRejected(400, "invalid_ts")
    if len(beacon["v"]) < 8 or len(beacon["e"]) < 8:
        raise BeaconRejected(400, "invalid_id")
    if not _is_page_address(beacon["u"]):
        raise BeaconRejected(400, "invalid_u")
    return beacon


def is_bot(user_agent: str) -> bool:
    return not user_agent or bool(_BOT.search(user_agent))


# A site key the database could not be asked about (it was unreachable).
UNAVAILABLE = object()
OUTAGE_RETRY_SECONDS = 15.0
# Each site's version, raised whenever Settings changes what beacons and the script depend on
# (tracking on or off, the website, privacy signals): one HGET a beacon tells every web process
# whether what it keeps is still current.
SITE_VERSIONS = "footfall:site_versions"


class SiteUnavailable(Exception):
    """The database cannot say what a site key is right now."""


# Database look-ups a second (and in a burst) of site keys a process has never seen. Real sites are
# seen once and then kept; a flood of random keys costs at most this many queries.
NEW_KEY_LOOKUPS_PER_SECOND = 20


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
                        site.respect_privacy_signals) if site else None
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


def event_record(beacon: dict, site: SiteInfo, user_agent: str) -> str:
    """What the worker needs, as one compact JSON string: one stream entry per page view."""
    return json.dumps({
        "s": site.site_id, "a": site.account_id, "u": beacon["u"], "t": beacon["t"], "r": beacon["r"],
        "v": beacon["v"], "c": beacon["c"], "e": beacon["e"], "ts": beacon.get("ts"),
        "rt": int(time.time() * 1000), "ua": user_agent[:300],
    }, separators=(",", ":"))


def push_event(pipe, record: str) -> None:
    push_entry(pipe, EVENTS_STREAM, record)


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


class Ingest:
    """Per-process state of the beacon endpoint: the site cache, the rate limiters and the counts of
    outcomes not yet in Redis."""

    def __init__(self, per_address: float, per_site: float, counts: BufferedCounts):
        self.sites = SiteCache()
        self.per_address = RateLimiter(per_address, per_address * 10)
        self.per_site = RateLimiter(per_site, per_site * 10)
        # Keys never seen: a budget of look-ups for the process, and a share of it per address, so
        # that no one address takes it all.
        self.new_keys = RateLimiter(NEW_KEY_LOOKUPS_PER_SECOND, NEW_KEY_LOOKUPS_PER_SECOND * 5)
        self.new_keys_per_address = RateLimiter(1, 5)
        self.counts = counts

    def accept(self, redis, raw: bytes, user_agent: str, address: str) -> int:
        """Validate and queue one beacon; the HTTP status to answer (503: Redis is unreachable).

        A site this process keeps is taken as current, and its version is read in the same
        pipeline as the page view is queued (one round trip); in the rare case it has changed, the
        decision is made again and corrected (the worker, which checks the site again before it
        stores anything, drops a view queued for a site turned off or moved meanwhile)."""
        try:
            beacon = parse_beacon(raw)
        except BeaconRejected as rejected:
            return self.refuse(redis, rejected.status, "too_large" if rejected.status == 413 else "invalid")
        key = beacon["k"]
        if not self.may_ask_about(key, address):  # before anything costs a look-up
            return self.refuse(redis, 429, "rate_limited")
        kept = self.sites.kept(key)
        try:
            site = kept[1] if kept else self.sites.get(key, redis)
        except (SiteUnavailable, RedisError):
            return self.refuse(redis, 503, "unavailable")
        if site is None:
            return self.refuse(redis, 404, "unknown_site")
        if not self.per_site.allow(key):
            return self.refuse(redis, 429, "rate_limited")
        reason = self._reason(site, beacon, user_agent)

        def commands(pipe):
            if kept:
                pipe.hget(SITE_VERSIONS, key)
            self._queue(pipe, site, reason, beacon, user_agent)

        try:
            results = self.counts.send(redis, commands)
            if kept and results[0] != kept[0]:  # changed in Settings since this process read it
                site, reason = self._decide_again(redis, key, results[0], beacon, user_agent, site, reason)
        except RedisError:  # unreachable, out of memory, read-only after a failover: not accepted
            self.counts.add(series("beacons_dropped", "unavailable"))
            return 503
        self.counts.add(series("beacons_dropped", reason) if reason else BEACON_ACCEPTED)
        return 204

    def may_ask_about(self, site_key: str, address: str) -> bool:
        """The limits before a site key is looked up: requests per client address (an IPv6 /64),
        and keys this process has never seen, per address and for the process."""
        address = client_key(address)
        return self.per_address.allow(address) and (
            self.sites.knows(site_key)
            or (self.new_keys_per_address.allow(address) and self.new_keys.allow("")))

    @staticmethod
    def _reason(site: SiteInfo, beacon: dict, user_agent: str) -> str | None:
        """Why the page view is not stored, or None."""
        return ("disabled" if not site.enabled else
                "foreign_host" if not host_matches(beacon["u"], site.host) else
                "bot" if is_bot(user_agent) else None)

    @staticmethod
    def _queue(pipe, site: SiteInfo, reason: str | None, beacon: dict, user_agent: str) -> None:
        if reason:
            count_dropped(pipe, site.site_id, reason)
        else:
            push_event(pipe, event_record(beacon, site, user_agent))

    def _decide_again(self, redis, key: str, version, beacon: dict, user_agent: str, queued_for: SiteInfo,
                      reason: str | None) -> tuple[SiteInfo, str | None]:
        """The beacon was handled with a site that has changed since: decide with the current one
        and put right what differs (a drop counted, or the view not queued); (site, reason)."""
        try:
            site = self.sites.current(key, version) or queued_for
        except SiteUnavailable:
            return queued_for, reason
        again = self._reason(site, beacon, user_agent)
        if again != reason:
            def correct(pipe):
                if reason:  # counted as dropped: not that, but queued or dropped for another reason
                    pipe.hincrby(dropped_key(queued_for.site_id), reason, -1)
                    self._queue(pipe, site, again, beacon, user_agent)
                else:  # queued already: the worker, which checks the site again, drops it
                    count_dropped(pipe, site.site_id, again)
            self.counts.send(redis, correct)
        return site, again

    def refuse(self, redis, status: int, reason: str) -> int:
        """Count a beacon refused before it reached Redis; `status` is the answer."""
        self.counts.add(series("beacons_dropped", reason))
        try:
            self.counts.flush(redis)
        except RedisError:
            pass  # kept for a later flush; the refusal stands either way
        return status
