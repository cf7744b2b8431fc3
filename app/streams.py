"""Redis Streams consumed in batches by the workers' consumer, reliably.

Entries are acknowledged only after their batch is stored and committed, so a worker killed
mid-batch leaves them pending; a consumer (another one, or the same restarted) takes over
entries idle for longer than EVENTS_CLAIM_IDLE_MS. Storing must be idempotent (unique ids),
since a taken-over batch may have been partly stored already.

One entry can never hold up the others: when a batch fails because of what it holds (an error of
the data, not of the database's state) while the database and Redis answer, it is stored again in
halves, down to the entry that fails on its own, which is set aside in the stream's dead-letter
stream (`<stream>:dead`, counted in /metrics, shown and replayed by `flask dead-letters`) and
acknowledged. During an outage (unreachable, locked, out of disk, read-only, timed out) nothing is
set aside: the batch stays pending and is tried again.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from app.extensions import database_error, db

log = logging.getLogger(__name__)

GROUP = "store"
BATCH_SIZE = 500
# Entries a stream keeps, the oldest trimmed first, stored or not (docs/scaling.md); its dead
# letters keep as many: entries set aside are lost only past that (alert on any).
STREAM_MAX_LENGTH = 2_000_000
DEAD_LETTERS_MAX_LENGTH = STREAM_MAX_LENGTH
# SQLSTATE classes of errors a statement's data causes, whatever the database's state: data
# exceptions (22), integrity violations (23), program limits such as an index entry too large (54).
_DATA_SQLSTATE_CLASSES = ("22", "23", "54")
# How often an entry that fails on its own is tried before it is set aside (a deadlock, say,
# passes on a second try; a poison entry does not).
TRIES_ALONE = 2


def push_entry(redis, stream: str, record: str) -> None:
    """Add a record to a stream (`redis` may be a pipeline), trimmed at STREAM_MAX_LENGTH."""
    redis.xadd(stream, {"d": record}, maxlen=STREAM_MAX_LENGTH, approximate=True)


def dead_letters(stream: str) -> str:
    """The stream where a stream's entries that failed on their own are set aside."""
    return f"{stream}:dead"


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Stream:
    name: str
    store: Callable[[list[bytes]], int]

    def push(self, redis, record: str) -> None:
        push_entry(redis, self.name, record)

    def ensure_group(self, redis) -> None:
        try:
            redis.xgroup_create(self.name, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read_batch(self, redis, consumer: str, count: int = BATCH_SIZE, block_ms: int | None = 1000):
        """Entries left pending by a dead consumer first, then new ones: [(entry id, record)]."""
        claimed = redis.xautoclaim(self.name, GROUP, consumer, start_id="0-0", count=count,
                                   min_idle_time=current_app.config["EVENTS_CLAIM_IDLE_MS"])
        entries = [entry for entry in claimed[1] if entry and entry[1]]
        if not entries:
            response = redis.xreadgroup(GROUP, consumer, {self.name: ">"}, count=count, block=block_ms)
            entries = response[0][1] if response else []
        return [(entry_id, fields.get(b"d", b"")) for entry_id, fields in entries]

    @property
    def dead_letters(self) -> str:
        return dead_letters(self.name)

    def drain_once(self, redis, consumer: str, count: int = BATCH_SIZE, block_ms: int | None = 1000) -> int:
        """Read, store and acknowledge one batch; the number of entries handled (stored or set aside)."""
        entries = self.read_batch(redis, consumer, count, block_ms)
        if not entries:
            return 0
        self._store_isolating(redis, entries)
        redis.xack(self.name, GROUP, *[entry_id for entry_id, _ in entries])
        return len(entries)

    def _store_isolating(self, redis, entries: list[tuple[bytes, bytes]]) -> None:
        """Store the entries; an entry that fails alone while everything answers is set aside.
        Anything else that fails (an outage) raises, leaving the batch pending."""
        for _attempt in range(TRIES_ALONE if len(entries) == 1 else 1):
            try:
                self.store([record for _, record in entries])
                return
            except Exception as error:  # noqa: BLE001 (judged below: an outage, or this batch)
                db.session.rollback()
                if not (caused_by_the_data(error) and _everything_answers(redis)):
                    raise
                failure = error
        if len(entries) > 1:
            middle = len(entries) // 2
            self._store_isolating(redis, entries[:middle])
            self._store_isolating(redis, entries[middle:])
            return
        entry_id, record = entries[0]
        problem = f"{type(failure).__name__}: {(str(failure).strip().splitlines() or [''])[0][:500]}"
        redis.xadd(self.dead_letters, {"d": record, "entry": entry_id, "error": problem,
                                       "at": int(time.time() * 1000)},
                   maxlen=DEAD_LETTERS_MAX_LENGTH, approximate=True)
        log.error("set aside entry %s of %s, which fails on its own (%s); see `flask dead-letters show`",
                  entry_id.decode() if isinstance(entry_id, bytes) else entry_id, self.name, problem)

    def set_aside(self, redis, count: int = 20) -> list[dict]:
        """The oldest entries set aside: [{"id", "at" (ms), "error", "record"}]."""
        return [{"id": entry_id.decode(), "at": int(fields.get(b"at", 0)),
                 "error": fields.get(b"error", b"").decode(),
                 "record": fields.get(b"d", b"").decode("utf-8", "replace")}
                for entry_id, fields in redis.xrange(self.dead_letters, count=count)]

    def replay_set_aside(self, redis) -> int:
        """Put every entry set aside back in the stream (once the code that failed on them is
        fixed); how many. Each goes back before it leaves the dead letters: none is lost midway."""
        last = redis.xrevrange(self.dead_letters, count=1)
        if not last:
            return 0
        replayed, start, end = 0, "-", last[0][0]  # (not those set aside again meanwhile)
        while entries := redis.xrange(self.dead_letters, start, end, count=500):
            for entry_id, fields in entries:
                self.push(redis, fields.get(b"d", b""))
                redis.xdel(self.dead_letters, entry_id)
                replayed += 1
            start = b"(" + entries[-1][0]
        return replayed

    def drop_set_aside(self, redis) -> int:
        """Delete every entry set aside; how many."""
        count = redis.xlen(self.dead_letters)
        redis.delete(self.dead_letters)
        return count

    def drain(self, redis, consumer: str | None = None) -> int:
        """Handle every entry waiting now (tests, burst workers); the number handled."""
        consumer = consumer or consumer_name()
        self.ensure_group(redis)
        total = 0
        while handled := self.drain_once(redis, consumer, block_ms=None):
            total += handled
        return total


def caused_by_the_data(error: BaseException) -> bool:
    """Whether an error storing a batch comes from what the batch holds: an error of the code
    reading its entries (a ValueError, say), or a database error of the data (SQLSTATE classes
    22, 23, 54; SQLite's DataError and IntegrityError). Not: Redis or the network failing, or the
    database's state (locked, out of disk, read-only, a timeout, a deadlock), which pass."""
    if isinstance(error, (RedisError, OSError)):
        return False
    if isinstance(error, SQLAlchemyError):
        if isinstance(error, (DataError, IntegrityError)):
            return True
        sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
        return sqlstate[:2] in _DATA_SQLSTATE_CLASSES
    return True


def _everything_answers(redis) -> bool:
    """Whether the database and Redis answer now: a batch that failed meanwhile failed because of
    what it holds."""
    if database_error() is not None:
        return False
    try:
        return bool(redis.ping())
    except RedisError:
        return False
