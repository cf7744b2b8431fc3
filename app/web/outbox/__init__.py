"""The outbox: every email the account sent, readable in the app (and the only copy without MAIL_URL)."""
from flask import Blueprint, abort, make_response, render_template
from flask_login import current_user

from app.messaging.mail import emails_for_account, get_email
from app.web import require_login

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
require_login(bp)

# The email's own HTML is shown in a sandboxed frame: no scripts, no forms, no same-origin access.
# Links open in a new tab (the frame cannot show other sites), as they would from a mail app.
EMAIL_FRAME_POLICY = ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                      "style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'")


@bp.get("/")
def index():
    """Renders the list of emails sent by this account."""
    return render_template("outbox/index.html", emails=emails_for_account(current_user.account_id, limit=200))


@bp.get("/<int:email_id>")
def show(email_id: int):
    """Renders one email: headers, delivery status, text part and HTML part."""
    email = get_email(current_user.account_id, email_id) or abort(404)
    return render_template("outbox/show.html", email=email)


@bp.get("/<int:email_id>/html")
def html_part(email_id: int):
    """Renders the email's HTML part for the sandboxed frame."""
    email = get_email(current_user.account_id, email_id) or abort(404)
    response = make_response('<base target="_blank">' + email.html_body)
    response.headers["Content-Security-Policy"] = EMAIL_FRAME_POLICY
    return response
