"""Clicks on links in messages: the redirect pushes one stream entry (no database in the request);
the worker's consumer stores them in batches."""
from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone

from app.models import LinkClick
from app.models.types import insert_new
from app.streams import Stream
from app.extensions import db

CLICKS_STREAM = "footfall:clicks"


def click_record(*, account_id: int, campaign_id: int | None, contact_id: int | None, channel: str, url: str,
                 email_id: int | None = None) -> str:
    return json.dumps({"id": secrets.token_hex(16), "a": account_id, "m": campaign_id, "c": contact_id,
                       "e": email_id, "ch": channel, "u": url[:2048], "t": int(time.time() * 1000)},
                      separators=(",", ":"))


def store_click_records(raw_records: list[bytes | str]) -> int:
    rows = []
    for raw in raw_records:
        try:
            record = json.loads(raw)
            rows.append({"click_id": str(record["id"]), "account_id": int(record["a"]),
                         "campaign_id": record.get("m"), "contact_id": record.get("c"), "email_id": record.get("e"),
                         "channel": str(record.get("ch") or "email")[:10], "url": str(record["u"])[:2048],
                         "clicked_at": datetime.fromtimestamp(int(record["t"]) / 1000, timezone.utc)})
        except (ValueError, TypeError, KeyError):
            continue
    if not rows:
        return 0
    stored = insert_new(LinkClick, rows, "click_id", returning=(LinkClick.id,))
    db.session.commit()
    return len(stored)


CLICKS = Stream(CLICKS_STREAM, store_click_records)
