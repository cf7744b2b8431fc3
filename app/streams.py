"""Redis Streams consumed in batches by the workers' consumer, reliably.

Entries are acknowledged only after their batch is stored and committed, so a worker killed
mid-batch leaves them pending; a consumer (another one, or the same restarted) takes over
entries idle for longer than EVENTS_CLAIM_IDLE_MS. Storing must be idempotent (unique ids),
since a taken-over batch may have been partly stored already.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import ResponseError

GROUP = "store"
BATCH_SIZE = 500


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Stream:
    name: str
    store: Callable[[list[bytes]], int]

    def push(self, redis, record: str, max_length: int = 2_000_000) -> None:
        redis.xadd(self.name, {"d": record}, maxlen=max_length, approximate=True)

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

    def drain_once(self, redis, consumer: str, count: int = BATCH_SIZE, block_ms: int | None = 1000) -> int:
        """Read, store and acknowledge one batch; the number of entries handled."""
        entries = self.read_batch(redis, consumer, count, block_ms)
        if not entries:
            return 0
        self.store([record for _, record in entries])
        redis.xack(self.name, GROUP, *[entry_id for entry_id, _ in entries])
        return len(entries)

    def drain(self, redis, consumer: str | None = None) -> int:
        """Handle every entry waiting now (tests, burst workers); the number handled."""
        consumer = consumer or consumer_name()
        self.ensure_group(redis)
        total = 0
        while handled := self.drain_once(redis, consumer, block_ms=None):
            total += handled
        return total
