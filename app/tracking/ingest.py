"""The beacon's hot path: validate a page view, then hand it to Redis in one pipeline that reads
the site's version (is the site as this process knows it current?) and queues the view.

Nothing here writes the database; workers store events in batches
(app/tracking/events.py). Outcomes are counted in memory and reach Redis with a beacon's own
command about once a second (app/metrics.py); nothing is logged per beacon.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from app.metrics import BEACON_ACCEPTED, BufferedCounts, series
from app.ratelimit import RateLimiter, client_key
from app.streams import push_entry
from app.tracking import custom_events, first_party
from app.tracking.first_party import Proxied
from app.tracking.identity import signature_matches
from app.tracking.sites import SITE_VERSIONS, SiteCache, SiteInfo, SiteUnavailable, count_dropped, dropped_key
from app.tracking.urls import host_matches

MAX_BODY_BYTES = 8 * 1024
EVENTS_STREAM = "footfall:events"

_TOKEN = re.compile(r"[A-Za-z0-9_-]+\Z")  # (\Z: `$` would also accept a trailing newline)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")
_HEX = re.compile(r"[0-9a-fA-F]{64}\Z")
# NUL and lone surrogates (JSON can escape them): no database stores them as text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_BOT = re.compile(r"bot|crawl|spider|slurp|curl/|wget|python-requests|httpclient|facebookexternalhit|"
                  r"preview|lighthouse|pingdom|uptime", re.I)

# field: (required, max length, pattern)
_FIELDS = {
    "k": (True, 32, _TOKEN),
    "u": (True, 2048, None),
    "v": (False, 64, _TOKEN),  # (in first-party mode, from the cookie /collect sets)
    "e": (True, 64, _TOKEN),
    "t": (False, 2000, None),
    "r": (False, 2048, None),
    "c": (False, 100, _TOKEN),
    # Verified identify (app/tracking/identity.py): a signed-in customer's email and the website
    # server's signature of it; `x` (1) when the beacon is only that, not a page view.
    "i": (False, 254, _EMAIL),
    "g": (False, 64, _HEX),
    # A custom event (app/tracking/custom_events.py): its name; its properties are `p`.
    "n": (False, 64, custom_events.NAME),
}


class BeaconRejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


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
    if isinstance(beacon.get("t"), str):
        beacon["t"] = beacon["t"][:500]  # (the script sends the whole title: a long one is cut here)
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
    if beacon.get("x") not in (None, 0, 1) or (beacon.get("x") and not beacon["i"]):
        raise BeaconRejected(400, "invalid_x")
    if (beacon["v"] and len(beacon["v"]) < 8) or len(beacon["e"]) < 8:
        raise BeaconRejected(400, "invalid_id")
    if not _is_page_address(beacon["u"]):
        raise BeaconRejected(400, "invalid_u")
    if beacon["n"]:
        if beacon.get("x"):
            raise BeaconRejected(400, "invalid_n")
        beacon["i"] = beacon["g"] = ""  # (an identify waits for the next page view)
        try:
            beacon["p"] = custom_events.check_properties(beacon.get("p"))
        except custom_events.EventRejected:
            raise BeaconRejected(400, "invalid_p") from None
    return beacon


def identity_verified(site: SiteInfo, beacon: dict) -> bool:
    """A verified identify the site allows (its secret set) and whose signature is right."""
    return bool(beacon["i"] and beacon["g"]) and signature_matches(site.identify_secret, beacon["i"],
                                                                   beacon["g"])


def is_bot(user_agent: str) -> bool:
    return not user_agent or bool(_BOT.search(user_agent))


# Database look-ups a second (and in a burst) of site keys a process has never seen. Real sites are
# seen once and then kept; a flood of random keys costs at most this many queries.
NEW_KEY_LOOKUPS_PER_SECOND = 20


def event_record(beacon: dict, site: SiteInfo, user_agent: str) -> str:
    """What the worker needs, as one compact JSON string: one stream entry per page view."""
    return json.dumps({
        "s": site.site_id, "a": site.account_id, "u": beacon["u"], "t": beacon["t"], "r": beacon["r"],
        "v": beacon["v"], "c": beacon["c"], "e": beacon["e"], "ts": beacon.get("ts"),
        "rt": int(time.time() * 1000), "ua": user_agent[:300],
        **({"i": beacon["i"]} if beacon.get("i") else {}), **({"x": 1} if beacon.get("x") else {}),
        **({"n": beacon["n"], "p": beacon["p"]} if beacon.get("n") else {}),
    }, separators=(",", ":"))


def push_event(pipe, record: str) -> None:
    push_entry(pipe, EVENTS_STREAM, record)


@dataclass(frozen=True)
class Answer:
    """What /collect answers: a status, and in first-party mode the cookies to set (Secure when
    the page is on https)."""

    status: int
    cookies: tuple[first_party.Cookie, ...] = ()
    secure: bool = False


class Ingest:
    """Per-process state of the beacon endpoint: the site cache, the rate limiters and the counts of
    outcomes not yet in Redis. `own_proxies`: the load balancers in front of this instance
    (PROXY_COUNT), whose X-Forwarded-For entries come after a website proxy's."""

    def __init__(self, per_address: float, per_site: float, counts: BufferedCounts, own_proxies: int = 0):
        self.own_proxies = own_proxies
        self.sites = SiteCache()
        self.per_address = RateLimiter(per_address, per_address * 10)
        self.per_site = RateLimiter(per_site, per_site * 10)
        # Keys never seen: a budget of look-ups for the process, and a share of it per address, so
        # that no one address takes it all.
        self.new_keys = RateLimiter(NEW_KEY_LOOKUPS_PER_SECOND, NEW_KEY_LOOKUPS_PER_SECOND * 5)
        self.new_keys_per_address = RateLimiter(1, 5)
        self.counts = counts

    def accept(self, redis, raw: bytes, user_agent: str, address: str,
               proxied: Proxied | None = None) -> Answer:
        """Validate and queue one beacon; the answer (503: Redis is unreachable). `proxied`: what a
        request that came through a website's proxy says (first-party mode).

        A site this process keeps is taken as current, and its version is read in the same
        pipeline as the page view is queued (one round trip); in the rare case it has changed, the
        decision is made again and corrected (the worker, which checks the site again before it
        stores anything, drops a view queued for a site turned off or moved meanwhile)."""
        try:
            beacon = parse_beacon(raw)
        except BeaconRejected as rejected:
            reason = "too_large" if rejected.status == 413 else "invalid"
            return Answer(self.refuse(redis, rejected.status, reason))
        key = beacon["k"]
        # Before anything costs a look-up; a proxy's own address stands for all its visitors, so
        # theirs is limited once the proxy has proved itself.
        if not (self.may_look_up(key, address) if proxied else self.may_ask_about(key, address)):
            return Answer(self.refuse(redis, 429, "rate_limited"))
        # (An identify is checked with the site as of now, its secret maybe just replaced: a round
        # trip more, once per sign-in.)
        kept = None if beacon["i"] or beacon["g"] else self.sites.kept(key)
        try:
            site = kept[1] if kept else self.sites.get(key, redis)
        except (SiteUnavailable, RedisError):
            return Answer(self.refuse(redis, 503, "unavailable"))
        if site is None:
            return Answer(self.refuse(redis, 404, "unknown_site"))
        identity = None
        if site.first_party:
            problem, client = first_party.proven_visitor(proxied, site.proxy_secret, self.own_proxies)
            if problem:
                # Unproven: the limit of the address it came from (a forged header bypasses nothing).
                if proxied is not None and not self.per_address.allow(client_key(address)):
                    return Answer(self.refuse(redis, 429, "rate_limited"))
                return Answer(self.refuse_for_site(redis, site, 403, problem))
            address = client
        if proxied is not None and not self.per_address.allow(client_key(address)):
            return Answer(self.refuse(redis, 429, "rate_limited"))
        if site.first_party:
            identity = first_party.identify(proxied.cookies, beacon["c"], site.account_id)
            beacon["v"], beacon["c"] = identity.visitor, identity.cid
        elif not beacon["v"]:
            return Answer(self.refuse(redis, 400, "invalid"))
        if not self.per_site.allow(key):
            return Answer(self.refuse(redis, 429, "rate_limited"))
        reason = self._reason(site, beacon, user_agent)
        refused_identify = (bool(beacon["i"] or beacon["g"]) and not reason
                            and not identity_verified(site, beacon))
        if refused_identify:
            # Ignored and counted for the site: a page view is stored without it, an identify
            # alone not at all.
            beacon["i"] = ""
            if beacon.get("x"):
                return Answer(self.refuse_for_site(redis, site, 204, "identify_refused"))

        def commands(pipe):
            if kept:
                pipe.hget(SITE_VERSIONS, key)
            self._queue(pipe, site, reason, beacon, user_agent)
            if refused_identify:
                count_dropped(pipe, site.site_id, "identify_refused")

        try:
            results = self.counts.send(redis, commands)
            if kept and results[0] != kept[0]:  # changed in Settings since this process read it
                site, reason = self._decide_again(redis, key, results[0], beacon, user_agent, site, reason)
        except RedisError:  # unreachable, out of memory, read-only after a failover: not accepted
            self.counts.add(series("beacons_dropped", "unavailable"))
            return Answer(503)
        self.counts.add(series("beacons_dropped", reason) if reason else BEACON_ACCEPTED)
        if identity is None or reason:
            return Answer(204)
        return Answer(204, identity.cookies, secure=beacon["u"].startswith("https:"))

    def may_ask_about(self, site_key: str, address: str) -> bool:
        """The limits before a site key is looked up: requests per client address (an IPv6 /64),
        and keys this process has never seen, per address and for the process."""
        return self.per_address.allow(client_key(address)) and self.may_look_up(site_key, address)

    def probe(self, redis, raw: bytes, address: str, proxied: Proxied | None) -> str | int:
        """What /collect would make of a first-party beacon that came the way this probe did (the
        install check's, app/tracking/proxy_check.py): "verified", "standard" for a site not in
        first-party mode, or the reason it would be refused; or the status refusing the probe."""
        try:
            key = json.loads(raw).get("k")
        except (ValueError, UnicodeDecodeError, RecursionError, AttributeError):
            return 400
        if not isinstance(key, str) or not _TOKEN.match(key) or len(key) > 32:
            return 400
        if not (self.may_look_up(key, address) if proxied else self.may_ask_about(key, address)):
            return 429
        try:
            site = self.sites.get(key, redis)
        except (SiteUnavailable, RedisError):
            return 503
        if site is None:
            return 404
        verdict = "standard"
        if site.first_party:
            problem, _ = first_party.proven_visitor(proxied, site.proxy_secret, self.own_proxies)
            verdict = problem or "verified"
        if proxied is not None and verdict != "verified" and not self.per_address.allow(client_key(address)):
            return 429  # unproven: the limit of the address it came from
        return verdict

    def may_serve_script(self, site: SiteInfo, address: str, proxied: Proxied | None) -> bool:
        """The per-address limit of a script asked for through a website's proxy: the visitor's
        address once the proxy has proved itself, else the proxy's own (asked for directly, the
        limit was applied before the look-up)."""
        if proxied is None:
            return True
        if site.first_party:
            problem, client = first_party.proven_visitor(proxied, site.proxy_secret, self.own_proxies)
            address = address if problem else client
        return self.per_address.allow(client_key(address))

    def may_look_up(self, site_key: str, address: str) -> bool:
        """Whether the key is known to this process, or a look-up of a never-seen key is within
        the address's and the process's budgets."""
        address = client_key(address)
        return self.sites.knows(site_key) or (self.new_keys_per_address.allow(address)
                                              and self.new_keys.allow(""))

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

    def refuse_for_site(self, redis, site: SiteInfo, status: int, reason: str) -> int:
        """Refuse a beacon of a known site, counting the reason for the site too (its setup status
        and install check explain it)."""
        self.counts.add(series("beacons_dropped", reason))
        try:
            self.counts.send(redis, lambda pipe: count_dropped(pipe, site.site_id, reason))
        except RedisError:
            pass
        return status

    def refuse(self, redis, status: int, reason: str) -> int:
        """Count a beacon refused before it reached Redis; `status` is the answer."""
        self.counts.add(series("beacons_dropped", reason))
        try:
            self.counts.flush(redis)
        except RedisError:
            pass  # kept for a later flush; the refusal stands either way
        return status
