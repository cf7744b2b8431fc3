"""Prometheus metrics, shared by every web and worker process on every machine.

Counters live in one Redis hash (METRICS_KEY), one field per series ("beacons_dropped:bot"), so a
scrape of any web process sees the totals of all of them. Gauges (queue depths and lags, stream
backlogs) are read from Redis at scrape time. The beacon endpoint never pays a Redis command for a
count: web processes add up their beacon counts in memory and hand them to Redis in the pipeline
of a beacon about once a second (BufferedCounts), and on a scrape. Workers count directly.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from redis.exceptions import RedisError, ResponseError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from app.extensions import per_app
from app.models.messaging import CHANNELS
from app.queues import PRIORITY, get_redis
from app.streams import GROUP, dead_letters

log = logging.getLogger(__name__)

METRICS_KEY = "footfall:metrics"
FLUSH_INTERVAL_SECONDS = 1.0
# Redis < 7 does not report a group's lag: undelivered entries are then counted, up to this many.
UNDELIVERED_COUNT_LIMIT = 10_000

BEACON_ACCEPTED = "beacons_accepted"
DROP_REASONS = ("disabled", "foreign_host", "bot", "invalid", "too_large", "unknown_site", "rate_limited",
                "unavailable")


@dataclass(frozen=True)
class CounterSeries:
    help: str
    label: str = ""
    known_values: tuple[str, ...] = ()


# Hash field prefix: what it counts. Known label values are exposed at 0 before they first occur,
# so that dashboards and alerts see every series from the start.
COUNTERS = {
    "beacons_accepted": CounterSeries("Page-view beacons accepted and queued for storage."),
    "beacons_dropped": CounterSeries("Beacons not stored: answered 204 but dropped (disabled, foreign_host, "
                                     "bot) or refused with an error status, by reason.", "reason",
                                     DROP_REASONS),
    "jobs_failed": CounterSeries("RQ job runs that raised, runs RQ retries included, by queue.", "queue",
                                 PRIORITY),
    "messages_sent": CounterSeries("Messages delivered (to the provider, or to the outbox), by channel.",
                                   "channel", CHANNELS),
    "messages_failed": CounterSeries("Messages that failed for good (their last attempt failed), by channel.",
                                     "channel", CHANNELS),
    "message_attempts_failed": CounterSeries("Delivery attempts that failed, retried ones included, by "
                                             "channel.", "channel", CHANNELS),
}


def series(name: str, label_value: str = "") -> str:
    """The hash field of one counter series."""
    return f"{name}:{label_value}" if label_value else name


class BufferedCounts:
    """Counts of this process not yet in Redis. Thread-safe: gunicorn may run threads."""

    def __init__(self, interval: float = FLUSH_INTERVAL_SECONDS):
        self.interval = interval
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def add(self, field: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[field] += amount

    def take(self, *, force: bool = False) -> dict[str, int]:
        """The counts to send now (all of them, once the interval has passed), forgotten here."""
        now = time.monotonic()
        with self._lock:
            if not self._counts or not (force or now - self._last_flush >= self.interval):
                return {}
            counts, self._counts = dict(self._counts), Counter()
            self._last_flush = now
            return counts

    def give_back(self, counts: dict[str, int]) -> None:
        """Counts that did not reach Redis: they go with the next flush."""
        with self._lock:
            self._counts.update(counts)

    def send(self, redis, commands: Callable[[Any], None]) -> list:
        """Run the caller's `commands(pipe)` in one pipeline (one round trip) that also carries the
        counts due, so counting costs none of its own; the results of the caller's commands. The
        counts come back here if the pipeline fails."""
        return self._send(redis, self.take(), commands)

    def flush(self, redis, *, force: bool = False) -> None:
        """Send the counts due (all of them if forced) in a pipeline of their own."""
        counts = self.take(force=force)
        if counts:
            self._send(redis, counts, lambda pipe: None)

    def _send(self, redis, counts: dict[str, int], commands: Callable[[Any], None]) -> list:
        try:
            with redis.pipeline(transaction=False) as pipe:
                commands(pipe)
                mine = len(pipe)
                _add_counts(pipe, counts)
                return pipe.execute()[:mine]
        except BaseException:
            self.give_back(counts)
            raise


def _add_counts(pipe, counts: dict[str, int]) -> None:
    for field, amount in counts.items():
        pipe.hincrby(METRICS_KEY, field, amount)


def process_counts() -> BufferedCounts:
    """This web process's buffered counts (one per app)."""
    return per_app("footfall.metrics.counts", BufferedCounts)


def increment(redis, counts: dict[str, int]) -> None:
    """Add to shared counters at once (worker side). A metrics outage never fails the work counted."""
    counts = {field: amount for field, amount in counts.items() if amount}
    if not counts:
        return
    try:
        with redis.pipeline(transaction=False) as pipe:
            _add_counts(pipe, counts)
            pipe.execute()
    except RedisError as error:
        log.warning("could not count %s: %s", counts, error)


def count_deliveries(channel: str, *, sent: int = 0, failed_attempts: int = 0, failed: int = 0) -> None:
    """Count the outcome of delivery attempts of one channel's messages."""
    increment(get_redis(), {series("messages_sent", channel): sent,
                            series("message_attempts_failed", channel): failed_attempts,
                            series("messages_failed", channel): failed})


def stream_id_ms(entry_id: bytes | str) -> int:
    """The millisecond timestamp a stream entry id starts with."""
    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(entry_id.split("-", 1)[0])


@dataclass(frozen=True)
class StreamBacklog:
    entries: int
    age_seconds: float


def stream_backlog(redis, stream: str, now_ms: int) -> StreamBacklog:
    """Entries the consumer group has not acknowledged yet (delivered and pending, or not delivered
    at all), and the age of the oldest of them."""
    if not redis.exists(stream):
        return StreamBacklog(0, 0.0)
    try:
        groups = {group["name"].decode(): group for group in redis.xinfo_groups(stream)}
    except ResponseError:
        groups = {}
    group = groups.get(GROUP)
    if group is None:  # no consumer has started yet: everything waits
        first = redis.xrange(stream, count=1)
        age = (now_ms - stream_id_ms(first[0][0])) / 1000 if first else 0.0
        return StreamBacklog(redis.xlen(stream), max(age, 0.0))
    last_delivered = group["last-delivered-id"].decode()
    pending = int(group["pending"])
    undelivered = group.get("lag")
    if undelivered is None:
        undelivered = len(redis.xrange(stream, f"({last_delivered}", "+", count=UNDELIVERED_COUNT_LIMIT))
    oldest = None
    if pending:
        oldest = redis.xpending(stream, GROUP)["min"]
    elif undelivered:
        first = redis.xrange(stream, f"({last_delivered}", "+", count=1)
        oldest = first[0][0] if first else None
    age = (now_ms - stream_id_ms(oldest)) / 1000 if oldest else 0.0
    return StreamBacklog(pending + int(undelivered), max(age, 0.0))


def queue_lag_seconds(queue: Queue, now: float) -> float:
    """How long the job at the head of the queue (the next to run) has been waiting."""
    for job_id in queue.get_job_ids(0, 1):
        try:
            enqueued_at = Job.fetch(job_id, connection=queue.connection).enqueued_at
        except NoSuchJobError:  # expired while queued: RQ skips it too
            return 0.0
        if enqueued_at is not None:
            return max(now - enqueued_at.timestamp(), 0.0)
    return 0.0


class FootfallCollector:
    """Reads every series from Redis when Prometheus scrapes."""

    def __init__(self, redis, streams: dict[str, str]):
        self.redis = redis
        self.streams = streams

    def collect(self):
        yield from self._counters()
        yield from self._queues()
        yield from self._streams()

    def _counters(self):
        stored = Counter()
        for field, value in self.redis.hgetall(METRICS_KEY).items():
            stored[field.decode()] += int(value)
        for name, spec in COUNTERS.items():
            if not spec.label:
                family = CounterMetricFamily(f"footfall_{name}", spec.help)
                family.add_metric([], stored.get(name, 0))
                yield family
                continue
            family = CounterMetricFamily(f"footfall_{name}", spec.help, labels=[spec.label])
            values = dict.fromkeys(spec.known_values, 0)
            for field, value in stored.items():
                prefix, _, label_value = field.partition(":")
                if prefix == name and label_value:
                    values[label_value] = value
            for label_value, value in values.items():
                family.add_metric([label_value], value)
            yield family

    def _queues(self):
        depth = GaugeMetricFamily("footfall_queue_jobs", "Jobs waiting in each RQ queue.", labels=["queue"])
        lag = GaugeMetricFamily("footfall_queue_lag_seconds",
                                "Age of the oldest job waiting in each RQ queue.", labels=["queue"])
        failed = GaugeMetricFamily("footfall_queue_failed_jobs",
                                   "Jobs in each queue's failed-job registry (failed for good, kept for "
                                   "inspection).", labels=["queue"])
        now = time.time()
        for name in PRIORITY:
            queue = Queue(name, connection=self.redis)
            depth.add_metric([name], queue.count)
            lag.add_metric([name], queue_lag_seconds(queue, now))
            # No cleanup: a scrape only reads (workers clean the registries up).
            failed.add_metric([name], queue.failed_job_registry.get_job_count(cleanup=False))
        yield from (depth, lag, failed)

    def _streams(self):
        backlog = GaugeMetricFamily("footfall_stream_backlog",
                                    "Stream entries not yet stored (acknowledged) by the workers.",
                                    labels=["stream"])
        lag = GaugeMetricFamily("footfall_stream_lag_seconds",
                                "Age of the oldest stream entry not yet stored by the workers.",
                                labels=["stream"])
        dead = GaugeMetricFamily("footfall_stream_set_aside",
                                 "Stream entries set aside because they failed on their own (see "
                                 "`flask dead-letters show`).", labels=["stream"])
        now_ms = int(time.time() * 1000)
        for label, stream in self.streams.items():
            state = stream_backlog(self.redis, stream, now_ms)
            backlog.add_metric([label], state.entries)
            lag.add_metric([label], state.age_seconds)
            dead.add_metric([label], self.redis.xlen(dead_letters(stream)))
        yield from (backlog, lag, dead)


def exposition(redis, streams: dict[str, str]) -> bytes:
    """Every series in Prometheus's text format, this process's buffered counts included; `streams`
    names the consumed streams by label. Raises RedisError when Redis cannot be read."""
    process_counts().flush(redis, force=True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FootfallCollector(redis, streams))
    return generate_latest(registry)
