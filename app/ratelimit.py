"""Rate limits of two kinds: token buckets kept in one process, for hot paths that can afford no
extra Redis command (beacons, link redirects), and attempt counters kept in Redis, shared by every
web process, for sign-in and sign-up."""
from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Callable

from redis import Redis


def client_key(address: str) -> str:
    """What per-address limits count by: an IPv4 address, or an IPv6 address's /64 (one customer
    of a provider gets a whole /64, and could otherwise take a fresh address for each try)."""
    if ":" not in address:
        return address
    try:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    except ValueError:
        return address


class RateLimiter:
    """Token buckets per key, in this process: `rate` per second, bursts up to `burst`. `clock` is
    what the buckets refill by (tests stop it, so that what they count does not depend on how
    fast the machine sends)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            if len(self._buckets) > 100_000:
                self._buckets.clear()
            self._buckets[key] = (tokens - 1, now)
            return True


class AttemptCounter:
    """Attempts per key (a client address, an email, both), counted in Redis as each starts: past
    `limit`, an attempt is refused, and the count expires `window` seconds after the last one.
    Counting before the attempt is judged means parallel attempts cannot all pass while none is
    counted yet; an attempt that turns out fine can be forgiven."""

    def __init__(self, name: str):
        self.name = name

    def _key(self, key: str) -> str:
        # Hashed: a key holds what a visitor typed (an email of any length), the Redis key must not.
        return f"footfall:{self.name}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    def attempt(self, redis: Redis, key: str, limit: int, window: int) -> int:
        """Count an attempt; the seconds to wait if it is refused (over `limit`), else 0."""
        counted = self._key(key)
        with redis.pipeline() as pipe:
            pipe.incr(counted)
            pipe.expire(counted, window)
            attempts, _ = pipe.execute()
        return window if attempts > limit else 0

    def forgive(self, redis: Redis, key: str) -> None:
        """An attempt counted that turned out fine."""
        redis.decr(self._key(key))

    def clear(self, redis: Redis, key: str) -> None:
        redis.delete(self._key(key))


def wait_in_words(seconds: int) -> str:
    """How long to wait, as a person would say it: "45 seconds", "12 minutes"."""
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{-(-seconds // 60)} minutes"
