"""The home page."""
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from app.tracking import setup

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    """Renders the dashboard: the tracking status and where to go next."""
    site = setup.get_site(current_user.account_id)
    status = setup.status(site) if site else None
    return render_template("dashboard/index.html", site=site, status=status)
