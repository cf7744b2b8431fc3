"""The outbox: every email the account sent, readable in the app (and the only copy without MAIL_URL)."""
from flask import Blueprint, abort, make_response, render_template
from flask_login import current_user, login_required

from app.messaging.mail import emails_for_account, get_email

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

# The email's own HTML is shown in a sandboxed frame: no scripts, no forms, no same-origin access.
# Links open in a new tab (the frame cannot show other sites), as they would from a mail app.
EMAIL_FRAME_POLICY = ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                      "style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'")


@bp.get("/")
@login_required
def index():
    """Renders the list of emails sent by this account."""
    return render_template("outbox/index.html", emails=emails_for_account(current_user.account_id, limit=200))


@bp.get("/<int:email_id>")
@login_required
def show(email_id: int):
    """Renders one email: headers, delivery status, text part and HTML part."""
    email = get_email(current_user.account_id, email_id) or abort(404)
    return render_template("outbox/show.html", email=email)


@bp.get("/<int:email_id>/html")
@login_required
def html_part(email_id: int):
    """Renders the email's HTML part for the sandboxed frame."""
    email = get_email(current_user.account_id, email_id) or abort(404)
    response = make_response('<base target="_blank">' + email.html_body)
    response.headers["Content-Security-Policy"] = EMAIL_FRAME_POLICY
    return response
