"""Programs that use the REST API (app/api/): the account's API keys, and the answers to creating
requests kept for their idempotency keys."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.accounts import User
from app.models.types import UTCDateTime, utcnow


class ApiScope(StrEnum):
    READ = "read"  # GET only
    WRITE = "write"  # read and write


class ApiKey(db.Model):
    """A key a program sends as `Authorization: Bearer <key>`: shown once when created, stored as
    the SHA-256 of the whole key (random, so a fast hash is enough), revoked at once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(10), default=ApiScope.READ)
    # The key's first characters ("ff_3Hq9w2"), shown to tell keys apart; not enough to use it.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most once a minute (app/api_keys.py), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship()


class IdempotentRequest(db.Model):
    """The answer to a creating POST sent with an `Idempotency-Key`, kept for a day: the same key
    again gets the same answer, and nothing is created twice."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (Index("ix_api_idempotent_requests_key", "account_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # The method and path, and the SHA-256 of the body: the key sent with another request is refused.
    request: Mapped[str] = mapped_column(String(300))
    body_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column()
    response: Mapped[str] = mapped_column(Text)
    # The contact the answer shows, if any: erased with them (app/privacy.py).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
