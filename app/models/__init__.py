"""All models, imported here so Alembic and create_app() see every table."""
from app.models.accounts import Account, User, UserSession
from app.models.api import ApiKey, IdempotentRequest
from app.models.automations import Automation, AutomationRun, AutomationStepRun
from app.models.contacts import (Contact, ContactField, ContactImport, ContactList, Tag, contact_tags,
                                 list_members)
from app.models.messaging import Campaign, Email, LinkClick, ShortLink, SmsMessage, campaign_lists
from app.models.segments import Segment, SegmentMembershipChange, campaign_segments, segment_members
from app.models.tracking import (Browser, CustomEvent, IdentityChange, PageView, RetentionRun,
                                 TrackingAuditEntry,
                                 TrackingSite)
from app.models.webhooks import WebhookDelivery, WebhookSubscription

__all__ = ["Account", "User", "UserSession", "ApiKey", "IdempotentRequest",
           "Automation", "AutomationRun", "AutomationStepRun",
           "Contact", "ContactField", "ContactImport", "ContactList", "Tag", "contact_tags", "list_members",
           "Campaign", "Email", "LinkClick", "ShortLink", "SmsMessage", "campaign_lists",
           "Segment", "SegmentMembershipChange", "campaign_segments", "segment_members",
           "Browser", "CustomEvent", "IdentityChange", "PageView", "RetentionRun", "TrackingAuditEntry",
           "TrackingSite",
           "WebhookDelivery", "WebhookSubscription"]
