"""The Footfall web app. create_app() is the only place that wires it."""
from __future__ import annotations

import sqlite3
from itertools import chain

from flask import abort, render_template, request
from flask_openapi3 import Info, OpenAPI
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, IntegerConverter

from app.config import INSTANCE_DIR, PROJECT_ROOT, Settings
from app.extensions import csrf, db, htmx, login_manager, migrate
from app.logs import configure_logging, current_request_id, echo_request_id
from app.models.automations import AutomationStatus, RunStatus
from app.models.contacts import ImportStatus, Subscription
from app.models.messaging import CampaignStatus, DeliveryStatus
from app.models.types import MAX_ID

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)

# Two years, the usual choice; not includeSubDomains: other hosts under the same domain are the
# operator's to decide.
HSTS = "max-age=63072000"


class IdConverter(IntegerConverter):
    """`<int:…>` in routes: a number beyond the largest id a database stores names no row (a 404),
    rather than reaching the database driver, which refuses it with an error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class ApiIdConverter(BaseConverter):
    """`<id:…>` in the REST API's routes: any digits, checked by the route's path model (a 422
    naming the parameter, as the OpenAPI document says), never a 404 or 405 of the URL map."""

    regex = r"\d+"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # The web app and the worker write to the same SQLite file: WAL lets them share it.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL loses no committed data on a crash of the process, only on power loss,
        # and makes each commit (one per delivered message) cheap.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # LIKE is case-sensitive on PostgreSQL: segments must match the same rows on both.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.close()


def _api_app() -> OpenAPI:
    """The Flask app, as flask-openapi3's subclass: it makes the REST API's OpenAPI document
    (app/api/) from the routes' models; its own document pages are off (app/api/docs.py serves them)."""
    import app.api.problems as problems
    from app.api.docs import DESCRIPTION
    return OpenAPI(__name__, info=Info(title="Footfall API", version="1", description=DESCRIPTION),
                   security_schemes={"bearer": {
                       "type": "http", "scheme": "bearer",
                       "description": "An API key of the account (Settings → API)."}},
                   doc_ui=False, validation_error_status=422, validation_error_model=problems.Problem,
                   validation_error_callback=problems.from_validation_error,
                   instance_path=str(INSTANCE_DIR), static_folder=str(PROJECT_ROOT / "static"))


def create_app(config: dict | None = None) -> OpenAPI:
    settings = Settings.from_environ()
    for name, value in (config or {}).items():
        if name != "extra" and hasattr(settings, name):
            setattr(settings, name, value)
        else:
            settings.extra[name] = value
    settings.check()

    app = _api_app()
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["id"] = ApiIdConverter
    app.config.update(settings.flask_config())
    configure_logging(app)
    app.after_request(echo_request_id)
    app.jinja_env.add_extension("jinja2.ext.do")
    # The lifecycles, so that templates compare statuses with their names, not with strings.
    app.jinja_env.globals.update(AutomationStatus=AutomationStatus, CampaignStatus=CampaignStatus,
                                 DeliveryStatus=DeliveryStatus, ImportStatus=ImportStatus,
                                 RunStatus=RunStatus, Subscription=Subscription)
    if app.config["PROXY_COUNT"]:
        # Behind a load balancer: the visitor's address (rate limits) and scheme come from its headers.
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

    from app import models  # noqa: F401  (every table known before migrations run)
    from app import wiring
    wiring.connect()  # the receivers of app/signals.py: segments and automations hear of events

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."

    @login_manager.user_loader
    def load_user(user_id: str):
        from app import sessions
        return sessions.load_user(user_id)  # only while this browser's session is live (app/sessions.py)

    from app.ingest import bp as ingest_bp
    from app.web.auth import bp as auth_bp
    from app.web.automations import bp as automations_bp
    from app.web.contacts import bp as contacts_bp
    from app.web.campaigns import bp as campaigns_bp
    from app.web.dashboard import bp as dashboard_bp
    from app.web.links import bp as links_bp
    from app.web.outbox import bp as outbox_bp
    from app.web.ops import bp as ops_bp
    from app.web.public import bp as public_bp
    from app.web.segments import bp as segments_bp
    from app.web.settings import bp as settings_bp

    from app.web import local_input, local_time
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_input, "local_input")
    for blueprint in (auth_bp, dashboard_bp, contacts_bp, segments_bp, automations_bp, campaigns_bp,
                      settings_bp, outbox_bp, public_bp, links_bp, ingest_bp, ops_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(ingest_bp)

    from app import api
    api.load_routes()
    app.register_api(api.bp)
    app.register_blueprint(api.docs_bp)
    csrf.exempt(api.bp)
    from app.api.problems import ApiError, from_api_error, from_http_exception

    def for_the_api() -> bool:
        return request.path.startswith(api.PREFIX + "/")

    app.register_error_handler(ApiError, from_api_error)

    from app.cli import register_commands
    register_commands(app)

    @app.before_request
    def refuse_nul_characters():
        # PostgreSQL cannot store NUL in text: a form or query carrying one gets a clear 400 here
        # rather than a 500 from the database. Beacons are validated on their own hot path.
        if request.blueprint in ("ingest", "api"):
            return  # (the API's models refuse NUL in what they store)
        fields = chain(request.args.items(multi=True), request.form.items(multi=True),
                       ((name, upload.filename or "") for name, upload in request.files.items(multi=True)))
        if any("\x00" in name or "\x00" in value for name, value in fields):
            abort(400, "The form contained an invalid character (NUL). Remove it and try again.")

    production = app.config["FOOTFALL_ENV"] == "production"

    @app.after_request
    def security_headers(response):
        if production:
            # Every response, redirects and beacons included: browsers then never speak plain http
            # to this host again (PUBLIC_URL is https in production behind TLS).
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.blueprint == "ingest" or response.status_code in (301, 302, 303, 307, 308):
            return response  # beacons and redirects (hot paths) show no page: nothing to protect
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
        return response

    @app.errorhandler(HTTPException)
    def other_http_error(error):
        """A problem for the API; otherwise Flask's own page."""
        return from_http_exception(error) if for_the_api() else error

    @app.errorhandler(404)
    def not_found(error):
        """Renders the not-found page (a problem for the API)."""
        if for_the_api():
            return from_http_exception(error)
        return render_template("errors.html", title="Page not found",
                               message="There is nothing at this address."), 404

    @app.errorhandler(500)
    def server_error(error):
        """Renders the error page with the request id to quote, never a stack trace."""
        if for_the_api():
            from app.api.problems import problem_response
            return problem_response(500, f"The error was logged with the reference {current_request_id()}.")
        return render_template("errors.html", title="Something went wrong",
                               message="The error was logged. Please try again.",
                               reference=current_request_id()), 500

    @app.errorhandler(400)
    def bad_request(error):
        """Renders the bad-request page (for example an expired form)."""
        message = getattr(error, "description", None) or "The request could not be understood."
        if for_the_api():
            return from_http_exception(error)
        if request.path.startswith("/collect"):
            return message, 400
        return render_template("errors.html", title="Bad request", message=message), 400

    return app
