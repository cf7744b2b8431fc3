"""Rate limits of two kinds: token buckets kept in one process, for hot paths that can afford no
extra Redis command (beacons, link redirects), and attempt counters kept in Redis, shared by every
web process, for sign-in and sign-up."""
from __future__ import annotations

import threading
import time

from redis import Redis


class RateLimiter:
    """Token buckets per key, in this process: `rate` per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
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
    """Attempts per key (an email, a client address), counted in Redis. Once `limit` are counted,
    further attempts are refused until the count expires, `window` seconds after the last one."""

    def __init__(self, name: str):
        self.name = name

    def _key(self, key: str) -> str:
        return f"footfall:{self.name}:{key}"

    def refused_for(self, redis: Redis, key: str, limit: int) -> int:
        """Seconds to wait before `key` may try again; 0 when it may try now."""
        counted = self._key(key)
        if int(redis.get(counted) or 0) < limit:
            return 0
        return max(redis.ttl(counted), 1)

    def count(self, redis: Redis, key: str, window: int) -> None:
        counted = self._key(key)
        with redis.pipeline() as pipe:
            pipe.incr(counted)
            pipe.expire(counted, window)
            pipe.execute()

    def clear(self, redis: Redis, key: str) -> None:
        redis.delete(self._key(key))


def wait_in_words(seconds: int) -> str:
    """How long to wait, as a person would say it: "45 seconds", "12 minutes"."""
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{-(-seconds // 60)} minutes"
