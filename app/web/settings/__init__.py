"""Settings → Website tracking: the setup wizard, then the management view."""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db, htmx
from app.tracking import identity, retention, setup
from app.tracking.urls import InvalidWebsiteURL, normalise_website_url
from app.public_url import is_guess, public_url
from app.web import page_or_fragment, require_login
from app.web.settings.forms import (EditWebsiteForm, IdentityForm, PrivacyForm, SendToDeveloperForm,
                                    WebsiteForm)

bp = Blueprint("settings", __name__, url_prefix="/settings")
bp.add_app_template_filter(setup.describe, "describe_audit_entry")


require_login(bp)


def _site_or_404():
    return setup.get_site(current_user.account_id) or abort(404)


def _website_url(form_field) -> str | None:
    try:
        return normalise_website_url(form_field.data,
                                     allow_localhost=current_app.config["FOOTFALL_ENV"] != "production")
    except InvalidWebsiteURL as error:
        form_field.errors = [str(error)]
        return None


def _context(site, **extra) -> dict:
    context = dict(site=site, website_form=WebsiteForm(formdata=None),
                   send_form=SendToDeveloperForm(formdata=None),
                   public_url_guess=public_url() if is_guess() else None)
    if site is not None:
        context.update(status=setup.status(site), code=setup.embed_code(site, public_url()),
                       proxy_rules=setup.proxy_rules(site, public_url()),
                       audit=setup.audit_trail(site),
                       deliveries=setup.recent_developer_emails(site),
                       install_check=setup.install_check_result(site),
                       retention_run=retention.last_run(site.account_id),
                       tag_all_links=current_user.account.tag_all_links,
                       identity_form=IdentityForm(
                           formdata=None, browsers_per_contact=current_user.account.browsers_per_contact,
                           attach_earlier_visits=current_user.account.attach_earlier_visits),
                       identify_snippets=identity.server_snippets(site.identify_secret),
                       privacy_form=PrivacyForm(formdata=None,
                                                respect_privacy_signals=site.respect_privacy_signals,
                                                retention_days=site.anonymous_retention_days))
    context.update(extra)
    return context


def _panel(site, status_code: int = 200, **extra):
    return page_or_fragment("settings/tracking.html", "settings/_tracking_panel.html", status_code,
                            **_context(site, **extra))


@bp.get("/")
def index():
    """Redirects to the first settings tab."""
    return redirect(url_for("settings.tracking"))


@bp.get("/tracking")
def tracking():
    """Renders Settings → Website tracking: the wizard step, or the management view."""
    return render_template("settings/tracking.html", **_context(setup.get_site(current_user.account_id)))


@bp.post("/tracking/activate")
def activate():
    """Wizard step 1: renders step 2 (the code), or step 1 again with its errors."""
    form = WebsiteForm()
    url = _website_url(form.website_url)
    if not form.agree_terms.data:
        form.agree_terms.errors = [setup.TERMS_REQUIRED]
    elif url is not None:
        try:
            site = setup.activate(current_user, url, terms_accepted=True)
        except setup.SetupError as error:
            form[error.field].errors = [str(error)]
        else:
            db.session.commit()
            return _panel(site)
    return _panel(setup.get_site(current_user.account_id), 422, website_form=form)


@bp.post("/tracking/step")
def step():
    """Wizard steps 2 and 3: renders the next step (status), or the management view on Finish."""
    site = _site_or_404()
    setup.advance_wizard(site, to_step=3 if request.form.get("to") == "status" else None)
    db.session.commit()
    return _panel(site)


@bp.get("/tracking/status")
def status():
    """Renders the status badge (polled while not receiving data)."""
    site = _site_or_404()
    return render_template("settings/_status.html", site=site, status=setup.status(site))


@bp.post("/tracking/enabled")
def enabled():
    """Turns tracking on or off; renders the toggle and tells the page to refresh the status."""
    site = _site_or_404()
    changed = setup.set_enabled(site, current_user, request.form.get("enabled") == "1")
    db.session.commit()
    if not htmx:
        return redirect(url_for("settings.tracking"))
    response = current_app.make_response(render_template("settings/_toggle.html", site=site))
    if changed:
        response.headers["HX-Trigger"] = "tracking-changed"
    return response


@bp.get("/tracking/website")
def website():
    """Renders the website URL with its Edit button."""
    return render_template("settings/_website.html", site=_site_or_404())


@bp.get("/tracking/website/edit")
def edit_website():
    """Renders the inline form that edits the website URL."""
    site = _site_or_404()
    return render_template("settings/_website_form.html", site=site,
                           form=EditWebsiteForm(formdata=None, website_url=site.website_url))


@bp.post("/tracking/website")
def save_website():
    """Saves a new website URL; renders it with the reminder to install the code there."""
    site = _site_or_404()
    form = EditWebsiteForm()
    url = _website_url(form.website_url)
    if url is None:
        return page_or_fragment("settings/tracking.html", "settings/_website_form.html", 422,
                                **_context(site, form=form))
    changed = setup.change_website(site, current_user, url)
    db.session.commit()
    if not htmx:
        return redirect(url_for("settings.tracking"))
    response = current_app.make_response(render_template("settings/_website.html", site=site,
                                                         changed=changed))
    if changed:
        response.headers["HX-Trigger"] = "tracking-changed"
    return response


@bp.post("/tracking/send")
def send_to_developer():
    """Queues the code by email to the developer; renders the form with "Sent to …"."""
    site = _site_or_404()
    form = SendToDeveloperForm()
    try:
        recipients = setup.parse_recipients(form.recipients.data or "")
        setup.send_code_to_developer(site, current_user, recipients, form.note.data, public_url())
    except setup.SetupError as error:
        form[error.field].errors = [str(error)]
        return page_or_fragment("settings/tracking.html", "settings/_send.html", 422,
                                **_context(site, send_form=form))
    db.session.commit()
    return page_or_fragment("settings/tracking.html", "settings/_send.html",
                            **_context(site, sent_to=recipients))


@bp.get("/tracking/deliveries")
def deliveries():
    """Renders the delivery status of the code emails (polled while any is pending)."""
    site = _site_or_404()
    return render_template("settings/_deliveries.html", deliveries=setup.recent_developer_emails(site))


@bp.get("/tracking/audit")
def audit():
    """Renders the audit trail of tracking changes."""
    site = _site_or_404()
    return render_template("settings/_audit.html", audit=setup.audit_trail(site))


@bp.post("/tracking/privacy")
def privacy():
    """Saves the privacy settings; renders them with a confirmation or the error."""
    site = _site_or_404()
    form = PrivacyForm()
    try:
        setup.update_privacy(site, current_user,
                             respect_privacy_signals=bool(form.respect_privacy_signals.data),
                             retention_days=request.form.get("retention_days"))
    except setup.SetupError as error:
        form.retention_days.errors = [str(error)]
        return page_or_fragment("settings/tracking.html", "settings/_privacy.html", 422,
                                **_context(site, privacy_form=form))
    db.session.commit()
    return page_or_fragment("settings/tracking.html", "settings/_privacy.html", **_context(site, saved=True))


@bp.post("/tracking/identity")
def identity_rules():
    """Saves the identity rules (browsers per contact, earlier visits); renders them with a
    confirmation or the error."""
    site = _site_or_404()
    form = IdentityForm()
    try:
        setup.set_identity_rules(site, current_user,
                                 browsers_per_contact=request.form.get("browsers_per_contact"),
                                 attach_earlier=bool(form.attach_earlier_visits.data))
    except setup.SetupError as error:
        form.browsers_per_contact.errors = [str(error)]
        return page_or_fragment("settings/tracking.html", "settings/_identity.html", 422,
                                **_context(site, identity_form=form))
    db.session.commit()
    return page_or_fragment("settings/tracking.html", "settings/_identity.html", **_context(site, saved=True))


@bp.post("/tracking/verified-identify")
def verified_identify():
    """Turns verified identify on or off, or makes a new secret; renders the section."""
    site = _site_or_404()
    action = request.form.get("action", "")
    if action not in ("on", "off", "new_secret"):
        abort(400)
    setup.set_verified_identify(site, current_user, action != "off", new_secret=action == "new_secret")
    db.session.commit()
    return page_or_fragment("settings/tracking.html", "settings/_identity.html",
                            **_context(site, identify_saved=action))


@bp.post("/tracking/serving")
def serving():
    """Saves how the code is served (standard or first-party); renders the code for that way."""
    site = _site_or_404()
    changed = setup.set_first_party(site, current_user, request.form.get("first_party") == "1")
    db.session.commit()
    return _code(site, saved=changed)


@bp.post("/tracking/proxy-secret")
def proxy_secret():
    """Makes a new proxy secret; renders the code and the rules with it."""
    site = _site_or_404()
    if not site.first_party:
        abort(409)
    setup.new_proxy_secret(site, current_user)
    db.session.commit()
    return _code(site, new_secret=True)


def _code(site, **extra):
    """The code (and in first-party mode the proxy rules) as saved, for htmx; else the page."""
    if not htmx:
        return redirect(url_for("settings.tracking"))
    return render_template("settings/_code.html", site=site, code=setup.embed_code(site, public_url()),
                           proxy_rules=setup.proxy_rules(site, public_url()), **extra)


@bp.post("/tracking/link-tagging")
def link_tagging():
    """Saves which links in messages get cid; renders the setting with a confirmation."""
    site = _site_or_404()
    setup.set_tag_all_links(site, current_user, request.form.get("tag_all_links") == "1")
    db.session.commit()
    return render_template("settings/_link_tagging.html", tag_all_links=current_user.account.tag_all_links,
                           saved=True)


@bp.post("/tracking/test-link")
def test_link():
    """Emails the signed-in user a link to the website tagged for them; renders the confirmation."""
    site = _site_or_404()
    email = setup.send_test_link(site, current_user, public_url())
    db.session.commit()
    return render_template("settings/_test_link.html", site=site, sent_to=email.to_address, email=email)


@bp.post("/tracking/check")
def check_installation():
    """Queues a check of the website for the embed code; renders the pending result."""
    site = _site_or_404()
    setup.request_install_check(site)
    return render_template("settings/_install_check.html", site=site,
                           install_check=setup.install_check_result(site))


@bp.get("/tracking/check")
def install_check():
    """Renders the result of the last installation check (polled while pending)."""
    site = _site_or_404()
    return render_template("settings/_install_check.html", site=site,
                           install_check=setup.install_check_result(site))


# Settings → Contact fields: its routes are on this blueprint, in their own module.
from app.web.settings import fields as _fields  # noqa: E402,F401
from app.web.settings import account as _account  # noqa: E402,F401
from app.web.settings import api as _api  # noqa: E402,F401
from app.web.settings import webhooks as _webhooks  # noqa: E402,F401
