"""What the mail server or SMS provider has already accepted, noted in Redis the moment it does.

A message's outcome is committed to the database right after it is handed over; if that commit
fails (the database went away) the job is retried, and without this note the retry would send the
message again. The note outlives any retry (a week) and costs one Redis command a message.
"""
from __future__ import annotations

import logging

from redis.exceptions import RedisError

from app.queues import get_redis

KEEP_SECONDS = 7 * 24 * 3600
log = logging.getLogger(__name__)


def _key(kind: str, message_id: int) -> str:
    return f"footfall:handed-over:{kind}:{message_id}"


def record_handed_over(kind: str, message_id: int, receipt: str = "") -> None:
    """Note that `kind` ("email", "sms") message `message_id` was accepted by the server, with
    the server's receipt (an SMS provider's message id)."""
    try:
        get_redis().set(_key(kind, message_id), receipt, ex=KEEP_SECONDS)
    except RedisError:  # the database commit that follows is the record that matters
        log.warning("could not note that %s %s was handed over", kind, message_id)


def handed_over(kind: str, message_ids: list[int]) -> dict[int, str]:
    """The messages a server already accepted, though the database may not say so, with their
    receipts."""
    if not message_ids:
        return {}
    noted = get_redis().mget([_key(kind, message_id) for message_id in message_ids])
    return {message_id: note.decode() for message_id, note in zip(message_ids, noted) if note is not None}
