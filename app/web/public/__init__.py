"""Public pages: the tracking terms and the install help for webmasters."""
from flask import Blueprint, render_template

from app.tracking.setup import TERMS_VERSION

bp = Blueprint("public", __name__)


@bp.get("/legal/tracking-terms")
def tracking_terms():
    """Renders the website tracking terms."""
    return render_template("public/tracking_terms.html", terms_version=TERMS_VERSION)


@bp.get("/help/install")
def install_help():
    """Renders the install instructions for webmasters."""
    return render_template("public/install_help.html")
