"""What the mail server or SMS provider has already accepted, noted in Redis the moment it does.

A message's outcome is committed to the database right after it is handed over; if that commit
fails (the database went away) the job is retried, and without this note the retry would send the
message again. The note outlives any retry (a week) and costs one Redis command a message. It is
keyed by the message's id and creation time: SQLite gives a new row the id of a deleted one.
"""
from __future__ import annotations

import logging

from redis.exceptions import RedisError

from app.queues import get_redis

KEEP_SECONDS = 7 * 24 * 3600
log = logging.getLogger(__name__)


def keys(messages) -> dict[int, str]:
    """The note's key of each message (an Email or SmsMessage row), by id; made while the rows
    are loaded, so they serve even once the database is gone."""
    return {message.id: f"footfall:handed-over:{message.__tablename__}:{message.id}:"
                        f"{message.created_at.timestamp():.6f}" for message in messages}


def record_handed_over(key: str, receipt: str = "") -> None:
    """Note that the message was accepted by the server, with the server's receipt (an SMS
    provider's message id)."""
    try:
        get_redis().set(key, receipt, ex=KEEP_SECONDS)
    except RedisError:  # the database commit that follows is the record that matters
        log.warning("could not note that %s was handed over", key)


def handed_over(message_keys: dict[int, str]) -> dict[int, str]:
    """The messages a server already accepted, though the database may not say so, with their
    receipts."""
    if not message_keys:
        return {}
    noted = get_redis().mget(list(message_keys.values()))
    return {message_id: note.decode() for message_id, note in zip(message_keys, noted, strict=True)
            if note is not None}
