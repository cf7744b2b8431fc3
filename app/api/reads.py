"""/api/v1: the account's page views over a time range, segments and their members, automations
(enrol a contact, take them out) and campaigns with their report figures."""

from __future__ import annotations

from sqlalchemy import select

from app.api import TAGS, account_id, answer, bp, page_of, error_responses, replayed
from app.api.contacts import _contact, page_view_out
from app.api.problems import ApiError
from app.api.schemas import (
    AutomationList,
    AutomationOut,
    AutomationPath,
    CampaignList,
    CampaignOut,
    CampaignPath,
    CampaignReport,
    Enrolment,
    EnrolmentOut,
    EnrolmentPath,
    MemberOut,
    MemberPage,
    PageQuery,
    PageViewPage,
    SegmentList,
    SegmentOut,
    SegmentPath,
    TimeRangeQuery,
)
from app.automations import engine, service
from app.messaging import campaigns
from app.models import Automation, Campaign, Contact, PageView, Segment, segment_members
from app.models.automations import LIVE, AutomationStatus
from app.models.messaging import CampaignStatus
from app.segments.service import get_segment, list_segments


@bp.get("/page-views", tags=[TAGS["Activity"]], responses={200: PageViewPage})
def list_page_views(query: TimeRangeQuery):
    """The account's page views in a time range, identified and anonymous, oldest first"""
    statement = select(PageView).where(PageView.account_id == account_id())
    if query.since:
        statement = statement.where(PageView.received_at >= query.since)
    if query.until:
        statement = statement.where(PageView.received_at < query.until)
    rows, cursor = page_of(statement, PageView.id, query.cursor, query.limit)
    return answer(PageViewPage(data=[page_view_out(row[0]) for row in rows], next_cursor=cursor))


def _segment_out(segment: Segment) -> SegmentOut:
    return SegmentOut(
        id=segment.id,
        name=segment.name,
        member_count=segment.member_count,
        evaluated_at=segment.evaluated_at,
        created_at=segment.created_at,
    )


def _segment(segment_id: int) -> Segment:
    segment = get_segment(account_id(), segment_id)
    if segment is None:
        raise ApiError(404, f"This account has no segment {segment_id}.")
    return segment


@bp.get("/segments", tags=[TAGS["Segments"]], responses={200: SegmentList})
def segments():
    """The account's segments, by name"""
    return answer(SegmentList(data=[_segment_out(segment) for segment in list_segments(account_id())]))


@bp.get(
    "/segments/<id:segment_id>", tags=[TAGS["Segments"]], responses={200: SegmentOut, **error_responses(404)}
)
def segment(path: SegmentPath):
    """Get a segment"""
    return answer(_segment_out(_segment(path.segment_id)))


@bp.get(
    "/segments/<id:segment_id>/members",
    tags=[TAGS["Segments"]],
    responses={200: MemberPage, **error_responses(404)},
)
def segment_members_page(path: SegmentPath, query: PageQuery):
    """The members of a segment, by contact id"""
    found = _segment(path.segment_id)
    statement = (
        select(Contact.id, Contact.email)
        .join(segment_members, segment_members.c.contact_id == Contact.id)
        .where(segment_members.c.segment_id == found.id, Contact.account_id == account_id())
    )
    rows, cursor = page_of(statement, Contact.id, query.cursor, query.limit)
    return answer(
        MemberPage(data=[MemberOut(contact_id=row.id, email=row.email) for row in rows], next_cursor=cursor)
    )


def _automation(automation_id: int) -> Automation:
    automation = service.get_automation(account_id(), automation_id)
    if automation is None:
        raise ApiError(404, f"This account has no automation {automation_id}.")
    return automation


@bp.get("/automations", tags=[TAGS["Automations"]], responses={200: AutomationList})
def automations():
    """The account's automations, newest first"""
    entered = service.entered_counts(account_id())
    known = service.names(account_id())
    return answer(
        AutomationList(
            data=[
                AutomationOut(
                    id=row.id,
                    name=row.name,
                    status=row.status,
                    created_at=row.created_at,
                    trigger=service.describe_trigger(row.trigger or {}, known),
                    entered=entered.get(row.id, 0),
                )
                for row in service.list_automations(account_id())
            ]
        )
    )


@bp.post(
    "/automations/<id:automation_id>/enrolments",
    tags=[TAGS["Automations"]],
    responses={201: EnrolmentOut, **error_responses(404, 409)},
)
def enrol(path: AutomationPath, body: Enrolment):
    """Start a contact on an automation's path now, whatever its trigger

    The automation's filters and re-entry setting apply: 409 when they keep the contact out, or
    the automation is not active."""
    if (kept := replayed()) is not None:
        return kept
    automation = _automation(path.automation_id)
    contact = _contact(body.contact_id)
    if automation.status != AutomationStatus.ACTIVE:
        raise ApiError(409, "This automation is not active: activate it first.", "automation_id")
    run = engine.enter(automation, contact.id)
    if run is None:
        raise ApiError(
            409, "The automation's filters or re-entry setting keep this contact out.", "contact_id"
        )
    return answer(
        EnrolmentOut(automation_id=automation.id, contact_id=contact.id, run_id=run.id, status=run.status),
        201,
        contact_id=contact.id,
    )


@bp.delete(
    "/automations/<id:automation_id>/enrolments/<id:contact_id>",
    tags=[TAGS["Automations"]],
    responses={200: EnrolmentOut, **error_responses(404)},
)
def unenrol(path: EnrolmentPath):
    """Take a contact off an automation's path (404 if they are not on it)"""
    automation = _automation(path.automation_id)
    run = engine.latest_run(automation, path.contact_id)
    if run is None or run.status not in LIVE:
        raise ApiError(404, "This contact is not on the automation's path.")
    engine.exit_run(run, "removed through the API")
    return answer(
        EnrolmentOut(automation_id=automation.id, contact_id=run.contact_id, run_id=run.id, status=run.status)
    )


def _campaign_out(campaign: Campaign, with_report: bool = True) -> CampaignOut:
    report = None
    if with_report and campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        deliveries, clicks = campaigns.delivery_counts(campaign), campaigns.click_counts(campaign)
        report = CampaignReport(
            recipients=campaign.recipients,
            delivered=deliveries.delivered,
            waiting=deliveries.waiting + deliveries.in_outbox,
            failed=deliveries.failed,
            clicks=clicks["clicks"],
            clickers=clicks["clickers"],
        )
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        channel=campaign.channel,
        status=campaign.status,
        subject=campaign.subject,
        scheduled_at=campaign.scheduled_at,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
        created_at=campaign.created_at,
        report=report,
    )


@bp.get("/campaigns", tags=[TAGS["Campaigns"]], responses={200: CampaignList})
def campaign_list():
    """The account's campaigns, newest first (figures of sent ones: GET /campaigns/{id})"""
    return answer(
        CampaignList(
            data=[_campaign_out(row, with_report=False) for row in campaigns.list_campaigns(account_id())]
        )
    )


@bp.get(
    "/campaigns/<id:campaign_id>",
    tags=[TAGS["Campaigns"]],
    responses={200: CampaignOut, **error_responses(404)},
)
def campaign(path: CampaignPath):
    """Get a campaign, with its report figures once it is sending or sent"""
    found = campaigns.get_campaign(account_id(), path.campaign_id)
    if found is None:
        raise ApiError(404, f"This account has no campaign {path.campaign_id}.")
    return answer(_campaign_out(found))
