"""All models, imported here so Alembic and create_app() see every table."""
from app.models.accounts import Account, User
from app.models.contacts import Contact
from app.models.messaging import Email
from app.models.tracking import PageView, RetentionRun, TrackingAuditEntry, TrackingSite

__all__ = ["Account", "User", "Contact", "Email", "PageView", "RetentionRun", "TrackingAuditEntry", "TrackingSite"]
