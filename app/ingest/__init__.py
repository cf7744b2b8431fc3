"""The beacon side: the served tracking script (and, with the tracking-code issue, /collect).

CSRF-exempt: requests come from visitors' browsers on the tracked website.
"""
from flask import Blueprint, abort, make_response, render_template

from app.tracking.setup import site_by_key

bp = Blueprint("ingest", __name__)

SCRIPT_MAX_AGE = 300


@bp.get("/t/<site_key>.js")
def tracking_script(site_key: str):
    """Renders the tracking script for a site key; a no-op script when tracking is off."""
    site = site_by_key(site_key) or abort(404)
    response = make_response(render_template("ingest/tracker.js", site=site))
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = f"public, max-age={SCRIPT_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
