"""Public links in messages: the click redirect, short links, unsubscribe, the permanent web view.
No sign-in; every token is encrypted or signed (app/messaging/tokens.py), so nothing here redirects
to an address we did not write."""
from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request

from app.extensions import csrf, db, per_app
from app.contacts import people
from app.messaging import sms
from app.messaging.rendering import permanent_html
from app.messaging.clicks import CLICKS, click_record, link_works
from app.messaging.tokens import read_click_token, read_permanent_token, read_unsubscribe_token
from app.models import Campaign
from app.queues import get_redis
from app.ratelimit import RateLimiter

bp = Blueprint("links", __name__)

# The web view shows the marketer's HTML: sandboxed, never scripts on this origin.
WEB_VIEW_POLICY = ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                   "style-src 'unsafe-inline'; img-src https: data:")


def _not_found():
    return render_template("links/invalid.html"), 404


def _too_many_redirects():
    """The 429 page when this address follows links faster than a person clicks (checked before any
    token is read, so it also slows down guessing); None when the redirect may go ahead."""
    # In process, not in Redis: a redirect costs one Redis command (the click), and a limit must not
    # add another.
    rate = current_app.config["REDIRECT_RATE_PER_ADDRESS"]
    if per_app("footfall.redirect_limiter", lambda: RateLimiter(rate, rate * 10)).allow(
            request.remote_addr or ""):
        return None
    return render_template("links/too_many.html"), 429, {"Retry-After": "1", "Cache-Control": "no-store"}


@bp.get("/c/<token>")
def click(token: str):
    """Records the click (one Redis command) and redirects to the link's (tagged) address."""
    if refused := _too_many_redirects():
        return refused
    link = read_click_token(token)
    if link is None or not link_works(link):
        return _not_found()
    CLICKS.push(get_redis(), click_record(account_id=link.account_id, campaign_id=link.campaign_id,
                                          contact_id=link.contact_id, channel=link.channel,
                                          url=link.destination, email_id=link.email_id))
    # A bare redirect: no body to build, nothing to protect on a page nobody sees.
    return Response(status=302, headers={"Location": link.destination, "Cache-Control": "no-store",
                                         "Referrer-Policy": "no-referrer"})


@bp.get("/s/<code>")
def short_link(code: str):
    """Redirects a short link (from an SMS) to its address; a click redirect records the click."""
    if refused := _too_many_redirects():
        return refused
    link = sms.resolve_short_link(code) if code.isalnum() and len(code) <= 16 else None
    if link is None:
        return _not_found()
    return redirect(link.url, 302)


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """Renders the unsubscribe confirmation; a POST (also one-click from mail apps) unsubscribes."""
    link = read_unsubscribe_token(token)
    if link is None:
        return _not_found()
    if request.method == "POST":
        contact = people.unsubscribe_by_link(link.account_id, link.contact_id, link.channel, link.issued_at)
        db.session.commit()
        return render_template("links/unsubscribed.html", contact=contact, channel=link.channel)
    return render_template("links/unsubscribe.html", channel=link.channel)


@bp.get("/m/<token>")
def web_view(token: str):
    """Renders a campaign's public web view: links without any personal cid."""
    campaign_id = read_permanent_token(token)
    campaign = db.session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None or campaign.channel != "email" or campaign.started_at is None:
        return _not_found()  # (a campaign never sent is nobody's page on this domain)
    response = make_response(permanent_html(campaign))
    response.headers["Content-Security-Policy"] = WEB_VIEW_POLICY
    return response
