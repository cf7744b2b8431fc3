"""The request and response models of the REST API: what its OpenAPI document describes."""

from __future__ import annotations

import re

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from app.models.types import MAX_ID


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters cannot be stored")
    return value


def _iso_text(value):
    # (pydantic also reads numbers as Unix times: the document promises ISO 8601 text)
    if not isinstance(value, str) or not re.match(r"\d{4}-\d\d-\d\d", value):
        raise ValueError("an ISO 8601 time, as 2026-12-01T09:30:00Z, is expected")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except OverflowError:  # (year 1 at +01:00: before the first UTC time there is)
        raise ValueError("a time between the years 1 and 9999 in UTC is expected") from None


Text = Annotated[str, AfterValidator(_storable)]
# A time without an offset is read as UTC.
Moment = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_utc)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
FieldValue = Text | int | float | bool | None
Status = Literal["subscribed", "unsubscribed"]


class Strict(BaseModel):
    """A request body: unknown members are refused, so a misspelt one is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


# Paths and queries ------------------------------------------------------------------------------


class ContactPath(BaseModel):
    contact_id: Id


class ListMemberPath(BaseModel):
    contact_id: Id
    list_id: Id


class TagMemberPath(BaseModel):
    contact_id: Id
    tag_id: Id


class ListPath(BaseModel):
    list_id: Id


class TagPath(BaseModel):
    tag_id: Id


class SegmentPath(BaseModel):
    segment_id: Id


class AutomationPath(BaseModel):
    automation_id: Id


class EnrolmentPath(BaseModel):
    automation_id: Id
    contact_id: Id


class CampaignPath(BaseModel):
    campaign_id: Id


class PageQuery(BaseModel):
    cursor: Text | None = Field(None, max_length=100, description="`next_cursor` of the page before.")
    limit: int = Field(50, ge=1, le=200, description="Items per page.")


class ContactQuery(PageQuery):
    email: Text | None = Field(None, max_length=254, description="Only the contact with this email.")
    list_id: Id | None = Field(None, description="Only contacts on this list.")
    tag_id: Id | None = Field(None, description="Only contacts with this tag.")
    created_after: Moment | None = Field(None, description="Only contacts added after this time.")


class TimeRangeQuery(PageQuery):
    since: Moment | None = Field(None, description="From this time on (inclusive).")
    until: Moment | None = Field(None, description="Before this time.")


# Contacts ---------------------------------------------------------------------------------------


class Named(BaseModel):
    id: int
    name: str


class ContactOut(BaseModel):
    id: int
    email: str
    first_name: str
    last_name: str
    phone: str = Field(description="E.164, as +14155550123, or empty.")
    email_status: Status
    sms_status: Status
    fields: dict[str, FieldValue] = Field(
        description="Company, birthday, anniversary and the account's "
        "own fields, by key; a field without a value is absent."
    )
    lists: list[Named]
    tags: list[Named]
    created_at: datetime


class ContactPage(BaseModel):
    data: list[ContactOut]
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page; null on the last.")


class ContactChanges(Strict):
    first_name: Text | None = Field(None, max_length=100)
    last_name: Text | None = Field(None, max_length=100)
    phone: Text | None = Field(None, max_length=40, description="Any common form; stored as E.164.")
    email_status: Status | None = None
    sms_status: Status | None = None
    fields: dict[Annotated[str, Field(max_length=40)], FieldValue] | None = Field(
        None, description="Values by field key (GET /fields); null clears one. Fields not named are kept."
    )
    lists: list[Id] | None = Field(None, max_length=100, description="Lists to add the contact to (by id).")
    tags: list[Annotated[Text, Field(min_length=1, max_length=60)]] | None = Field(
        None, max_length=100, description="Tags to add, by name (created if missing)."
    )


class ContactCreate(ContactChanges):
    email: Text = Field(max_length=254)


class ContactUpdate(ContactChanges):
    email: Text | None = Field(None, max_length=254)


class FieldOut(BaseModel):
    key: str
    name: str
    type: Literal["text", "number", "date", "boolean", "choice"]
    choices: list[str]
    built_in: bool


class FieldList(BaseModel):
    data: list[FieldOut]


# Lists and tags ---------------------------------------------------------------------------------


class ListOut(BaseModel):
    id: int
    name: str
    member_count: int
    created_at: datetime


class ListList(BaseModel):
    data: list[ListOut]


class ListCreate(Strict):
    name: Text = Field(min_length=1, max_length=100)


class TagOut(BaseModel):
    id: int
    name: str
    created_at: datetime


class TagList(BaseModel):
    data: list[TagOut]


class TagAdd(Strict):
    name: Text = Field(min_length=1, max_length=60)


# Activity ---------------------------------------------------------------------------------------


class PageViewOut(BaseModel):
    id: int
    contact_id: int | None
    url: str
    title: str
    referrer: str
    device: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    received_at: datetime


class PageViewPage(BaseModel):
    data: list[PageViewOut]
    next_cursor: str | None


# Segments, automations, campaigns ---------------------------------------------------------------


class SegmentOut(BaseModel):
    id: int
    name: str
    member_count: int
    evaluated_at: datetime | None
    created_at: datetime


class SegmentList(BaseModel):
    data: list[SegmentOut]


class MemberOut(BaseModel):
    contact_id: int
    email: str


class MemberPage(BaseModel):
    data: list[MemberOut]
    next_cursor: str | None


class AutomationOut(BaseModel):
    id: int
    name: str
    status: str
    trigger: str = Field(description="What starts it, in words.")
    entered: int = Field(description="Contacts who entered it.")
    created_at: datetime


class AutomationList(BaseModel):
    data: list[AutomationOut]


class Enrolment(Strict):
    contact_id: Id


class EnrolmentOut(BaseModel):
    automation_id: int
    contact_id: int
    run_id: int
    status: str


class CampaignReport(BaseModel):
    recipients: int
    delivered: int = Field(description="Handed to the mail server or SMS provider.")
    waiting: int = Field(description="Not yet delivered: queued, or to be tried again.")
    failed: int = Field(description="Given up on.")
    clicks: int
    clickers: int = Field(description="Recipients who clicked a link.")


class CampaignOut(BaseModel):
    id: int
    name: str
    channel: Literal["email", "sms"]
    status: str
    subject: str
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    report: CampaignReport | None = Field(description="Once it has been sent.")


class CampaignList(BaseModel):
    data: list[CampaignOut]


# Custom events -----------------------------------------------------------------------------------

PropertyName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]
PropertyValue = Annotated[str, Field(max_length=500)] | int | float | bool | None


class EventIn(Strict):
    contact_id: Id | None = Field(None, description="The contact, by id; or give `email`.")
    email: Text | None = Field(None, max_length=254, description="The contact, by email.")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
                      description="As signup or order.placed: what segments and automations match.")
    properties: dict[PropertyName, PropertyValue] = Field(default_factory=dict, max_length=50,
                                            description="Flat: text, numbers, true, false or null.")
    time: Moment | None = Field(None, description="When it happened (default: now); up to a year ago.")
    id: Text | None = Field(None, min_length=1, max_length=100,
                            description="Your id of the event: sent again, it is stored once.")


class EventBatch(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=1000, description="1 to 1,000 events.")


class EventsAccepted(BaseModel):
    accepted: int = Field(description="Events queued for storage (a few seconds; sent twice, stored once).")


class EventOut(BaseModel):
    id: int
    name: str
    properties: dict[str, PropertyValue]
    source: Literal["website", "api"]
    url: str
    occurred_at: datetime
    received_at: datetime


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: str | None


# Webhook subscriptions --------------------------------------------------------------------------

EventType = Literal["contact.identified", "page_view.identified", "event.custom", "segment.joined",
                    "segment.left", "link.clicked", "contact.unsubscribed", "message.failed"]


class WebhookPath(BaseModel):
    webhook_id: Id


class DeliveryPath(BaseModel):
    webhook_id: Id
    delivery_id: Id


class WebhookIn(Strict):
    url: Text = Field(max_length=2000, description="https://… (the SSRF rules of every webhook call apply).")
    events: list[EventType] = Field(min_length=1, max_length=8)
    description: Text = Field("", max_length=200)


class WebhookChanges(Strict):
    url: Text | None = Field(None, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1, max_length=8)
    description: Text | None = Field(None, max_length=200)
    active: bool | None = Field(None, description="false pauses it; true resumes it.")


class WebhookOut(BaseModel):
    id: int
    url: str
    description: str
    events: list[str]
    active: bool
    paused_reason: str
    failing_since: datetime | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret: shown this once (empty in a replay of the "
                                    "request's Idempotency-Key).")


class WebhookList(BaseModel):
    data: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_status: int | None
    error: str
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None
