"""The home page: the tracking status and the tracking dashboard."""
from flask import Blueprint, render_template
from flask_login import current_user

from app.tracking import reports, setup
from app.web import require_login, time_zone

bp = Blueprint("dashboard", __name__)
require_login(bp)


@bp.get("/")
def index():
    """Renders the dashboard: status, page views per day, top pages, identified visitors."""
    account_id = current_user.account_id
    site = setup.get_site(account_id)
    if site is None:
        return render_template("dashboard/index.html", site=None)
    days = reports.views_per_day(account_id, zone=time_zone())
    return render_template("dashboard/index.html", site=site, status=setup.status(site), days=days,
                           peak=max([day.total for day in days] + [1]),
                           top_pages=reports.top_pages(account_id),
                           visitors=reports.identified_visitors(account_id))
