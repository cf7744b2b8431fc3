"""Campaigns: compose an email or SMS, preview, test, send now or schedule, and the report."""
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app import timezones
from app.contacts import people
from app.contacts.lists import account_lists
from app.extensions import db
from app.messaging import campaigns, personalise, sending
from app.messaging.rendering import permanent_html, permanent_url
from app.models.messaging import CampaignStatus
from app.messaging.sms import sms_segments
from app.public_url import public_url
from app.web import page_or_fragment, record_id, redirect_to, require_login, time_zone
from app.web.links import WEB_VIEW_POLICY
from app.tracking import identity

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")


require_login(bp)


def _campaign_or_404(campaign_id: int):
    return campaigns.get_campaign(current_user.account_id, campaign_id) or abort(404)


def _editor_context(campaign, **extra) -> dict:
    context = dict(campaign=campaign, lists=account_lists(campaign.account_id),
                   segments=campaigns.account_segments(campaign.account_id),
                   audience=campaigns.audience_count(campaign), errors={}, form=None,
                   length=sms_segments(campaign.body) if campaign.channel == "sms" else None,
                   merge_fields=personalise.menu(campaign.account_id),
                   test_contact=request.form.get("test_contact", ""))
    context.update(extra)
    return context


@bp.get("/")
def index():
    """Renders the list of campaigns."""
    return render_template("campaigns/index.html",
                           campaigns=campaigns.list_campaigns(current_user.account_id))


@bp.post("/")
def create():
    """Creates a draft email or SMS campaign and opens it."""
    try:
        campaign = campaigns.create_campaign(current_user, request.form.get("channel", "email"))
    except campaigns.CampaignError as error:
        flash(str(error), "error")
        return redirect(url_for("campaigns.index"))
    db.session.commit()
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.get("/<int:campaign_id>")
def show(campaign_id: int):
    """Renders the editor of a draft, or the report of a campaign that is sending or sent."""
    campaign = _campaign_or_404(campaign_id)
    starting = campaigns.is_starting(campaign)
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED) and not starting:
        return render_template("campaigns/edit.html", **_editor_context(campaign))
    return render_template("campaigns/report.html", campaign=campaign, starting=starting,
                           deliveries=campaigns.delivery_counts(campaign),
                           clicks=campaigns.click_counts(campaign),
                           failures=campaigns.failure_reasons(campaign),
                           forwarded=identity.forwarded_counts(campaign.account_id, campaign.id,
                                                               (campaign.channel,)),
                           web_url=(permanent_url(campaign.id, public_url())
                                    if campaign.channel == "email" else None))


def _save(campaign) -> dict:
    """Save the posted draft; the errors by field."""
    try:
        campaigns.update_campaign(campaign, name=request.form.get("name", ""),
                                  subject=request.form.get("subject", ""),
                                  from_name=request.form.get("from_name", ""),
                                  body=request.form.get("body", ""),
                                  list_ids=[value for value in request.form.getlist("list_ids")
                                            if record_id(value)],
                                  segment_ids=[value for value in request.form.getlist("segment_ids")
                                               if record_id(value)],
                                  tag_links=request.form.get("tag_links") == "1")
    except campaigns.CampaignError as error:
        db.session.rollback()
        # The editor shows what was typed, with the error, not the saved draft (never committed).
        campaign.name, campaign.subject = request.form.get("name", ""), request.form.get("subject", "")
        campaign.from_name, campaign.body = request.form.get("from_name", ""), request.form.get("body", "")
        return {error.field: str(error)}
    db.session.commit()
    return {}


def _editor(campaign, errors: dict, status_code: int = 200, **extra):
    # (After an error the campaign holds what was typed, for the editor to show, never to be stored:
    # a subject too long for its column must not be flushed by the queries the editor makes.)
    with db.session.no_autoflush:
        response = make_response(page_or_fragment("campaigns/edit.html", "campaigns/_editor.html",
                                                  status_code,
                                                  **_editor_context(campaign, errors=errors, **extra)))
    if not errors:
        response.headers["HX-Trigger"] = "preview-changed"
    return response


@bp.post("/<int:campaign_id>")
def save(campaign_id: int):
    """Saves the draft; renders the editor with "Saved" or the errors."""
    campaign = _campaign_or_404(campaign_id)
    errors = _save(campaign)
    return _editor(campaign, errors, 422 if errors else 200, saved=not errors)


def _send_time() -> datetime | None:
    """None to send now, else the posted time (typed in the account's time zone) in UTC;
    CampaignError for a time that will not do."""
    if request.form.get("when") != "later":
        return None
    raw = request.form.get("scheduled_at", "")
    try:
        when = datetime.fromisoformat(raw) if raw else None
        if when is not None and when.tzinfo is None:
            when = timezones.to_utc(when, time_zone())
        elif when is not None:
            when = when.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise campaigns.CampaignError(f"Enter the date and time as YYYY-MM-DD HH:MM ({time_zone()}).",
                                      "scheduled_at") from None
    return campaigns.check_send_time(when)


@bp.post("/<int:campaign_id>/confirm-send")
def confirm_send(campaign_id: int):
    """Saves, then renders the editor with a dialog confirming what is on screen (name, audience,
    time), or with the errors that stop it from being sent."""
    campaign = _campaign_or_404(campaign_id)
    errors = _save(campaign)
    if not errors:
        try:
            campaigns.check_ready(campaign)
            when = _send_time()
        except campaigns.CampaignError as error:
            errors = {error.field: str(error)}
    if errors:
        return _editor(campaign, errors, 422)
    return _editor(campaign, {}, confirm={"when": when})


@bp.post("/<int:campaign_id>/send")
def send(campaign_id: int):
    """Saves, then sends now (to the report, which follows the sending) or at the chosen time;
    renders the editor with errors if it cannot."""
    campaign = _campaign_or_404(campaign_id)
    errors = _save(campaign)
    if not errors:
        try:
            when = _send_time()
            if when is None:
                sending.send_now(campaign, public_url())
            else:
                campaigns.schedule(campaign, when)
        except campaigns.CampaignError as error:
            db.session.rollback()
            errors = {error.field: str(error)}
    if errors:
        return _editor(campaign, errors, 422)
    db.session.commit()
    flash("Sending now." if when is None else "Scheduled.", "success")
    return redirect_to(url_for("campaigns.show", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/unschedule")
def unschedule(campaign_id: int):
    """Takes a scheduled campaign back to draft (the editor), unless it is already starting (its
    report says so)."""
    campaign = _campaign_or_404(campaign_id)
    if not campaigns.unschedule(campaign):
        flash("Too late to cancel: the campaign is already going out.", "error")
    db.session.commit()
    return redirect_to(url_for("campaigns.show", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/test")
def send_test(campaign_id: int):
    """Saves, then emails the campaign to the signed-in user; renders the test-send status."""
    campaign = _campaign_or_404(campaign_id)
    errors = _save(campaign)
    message = None
    as_email = request.form.get("test_contact", "").strip()
    as_contact = people.find_by_email(current_user.account_id, as_email) if as_email else None
    if as_email and as_contact is None:
        errors = {"test_contact": f"No contact has the email address {as_email[:254]}."}
    if not errors:
        try:
            campaigns.send_test(campaign, current_user, public_url(), as_contact)
            db.session.commit()
            message = f"Test sent to {current_user.email}" + (f" with the details of {as_contact.email}."
                                                             if as_contact else ".")
        except campaigns.CampaignError as error:
            errors = {error.field: str(error)}
    return _editor(campaign, errors, 422 if errors else 200, test_message=message)


@bp.get("/<int:campaign_id>/preview")
def preview(campaign_id: int):
    """Renders the saved draft's HTML for the sandboxed preview frame: as the web version shows it,
    or with the merge fields of the contact whose email is ?contact=."""
    campaign = _campaign_or_404(campaign_id)
    as_email = request.args.get("contact", "").strip()
    contact = people.find_by_email(current_user.account_id, as_email) if as_email else None
    if as_email and contact is None:
        response = make_response(render_template("campaigns/_no_preview_contact.html", email=as_email), 404)
    else:
        response = make_response(permanent_html(campaign, contact))
    response.headers["Content-Security-Policy"] = (
        WEB_VIEW_POLICY.replace("allow-popups allow-popups-to-escape-sandbox", "")
        + "; frame-ancestors 'self'")
    return response


@bp.post("/sms-length")
def sms_length():
    """Renders the character and segment count of an SMS text."""
    return render_template("campaigns/_sms_length.html", length=sms_segments(request.form.get("body", "")))


@bp.post("/<int:campaign_id>/delete")
def delete(campaign_id: int):
    """Deletes a draft and goes back to the list."""
    campaign = _campaign_or_404(campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        abort(409)
    db.session.delete(campaign)
    db.session.commit()
    flash("Campaign deleted.", "info")
    return redirect_to(url_for("campaigns.index"))
