"""Settings → Website tracking: activation, the embed code, status, turning off, editing, sharing."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import or_, select

from app.contacts import people
from app.extensions import db
from app.messaging.links import tag_url
from app.messaging.mail import email_addresses, queue_email
from app.models import Account, Email, PageView, TrackingAuditEntry, TrackingSite, User
from app.models.types import utcnow
from app.queues import enqueue, get_redis
from app.tracking.cid import make_cid
from app.tracking.first_party import PATH_PREFIX, PROXY_REFUSALS, new_secret
from app.tracking.identity import MAX_BROWSERS_PER_CONTACT, new_identify_secret
from app.tracking.proxy_snippets import proxy_snippets
from app.tracking.sites import dropped_counts, site_changed
from app.tracking.install_check import check_installation
from app.tracking.proxy_check import check_proxy
from app.tracking.retention import MAX_RETENTION_DAYS
from app.tracking.urls import site_host

TERMS_VERSION = "2026-11-01"
RECEIVING_WINDOW = timedelta(days=7)
TERMS_REQUIRED = "Tick the box to agree to the tracking terms before you continue."
MAX_NOTE_LENGTH = 1000
INSTALL_CHECK_TTL = 24 * 3600


class SetupError(ValueError):
    """A marketer's input that cannot be accepted; the message is shown as is, beside its field."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def get_site(account_id: int) -> TrackingSite | None:
    return db.session.scalar(select(TrackingSite).where(TrackingSite.account_id == account_id))


def _audit(site: TrackingSite, user: User | None, action: str, detail: str = "") -> None:
    db.session.add(TrackingAuditEntry(account_id=site.account_id, site_id=site.id,
                                      user_id=user.id if user else None, action=action, detail=detail))


def activate(user: User, website_url: str, *, terms_accepted: bool) -> TrackingSite:
    """Step 1 of the wizard: record the terms acceptance and create the site with a fresh key."""
    if not terms_accepted:
        raise SetupError(TERMS_REQUIRED, "agree_terms")
    site = get_site(user.account_id)
    now = utcnow()
    if site is None:
        site = TrackingSite(account_id=user.account_id, site_key=secrets.token_urlsafe(12),
                            website_url=website_url, enabled=True, wizard_step=2,
                            terms_version=TERMS_VERSION, terms_accepted_at=now,
                            terms_accepted_by_id=user.id)
        db.session.add(site)
        db.session.flush()
        _audit(site, user, "activated", website_url)
    elif site.wizard_step is not None:
        # Back on step 1 before finishing: keep the key, take the new address.
        if site.website_url != website_url:
            site_changed(db.session, site.site_key, site.id, website_changed=True)
        site.website_url = website_url
        site.wizard_step = 2
        site.terms_version, site.terms_accepted_at, site.terms_accepted_by_id = TERMS_VERSION, now, user.id
    else:
        raise SetupError("Tracking is already set up; use Edit to change the website.", "website_url")
    _audit(site, user, "terms_accepted", f"version {TERMS_VERSION}")
    return site


def advance_wizard(site: TrackingSite, *, to_step: int | None) -> None:
    """Move the wizard on (2 → 3) or finish it (None)."""
    if site.wizard_step is None:
        return
    site.wizard_step = to_step


def set_enabled(site: TrackingSite, user: User, enabled: bool) -> bool:
    """Turn tracking on or off; returns whether anything changed."""
    if site.enabled == enabled:
        return False
    site.enabled = enabled
    _audit(site, user, "turned_on" if enabled else "turned_off")
    site_changed(db.session, site.site_key, site.id)
    return True


def change_website(site: TrackingSite, user: User, website_url: str) -> bool:
    if site.website_url == website_url:
        return False
    previous, site.website_url = site.website_url, website_url
    _audit(site, user, "website_changed", f"{previous} → {website_url}")
    site_changed(db.session, site.site_key, site.id, website_changed=True)
    return True


def set_first_party(site: TrackingSite, user: User, first_party: bool) -> bool:
    """Serve the code through the website's own proxy (first-party mode) or from this instance's
    address; returns whether anything changed. The site's proxy secret is made the first time."""
    if site.first_party == first_party:
        return False
    site.first_party = first_party
    if first_party and not site.proxy_secret:
        site.proxy_secret = new_secret()
    _audit(site, user, "serving_changed", "first-party, through the website" if first_party
           else "standard, from Footfall's address")
    site_changed(db.session, site.site_key, site.id)
    return True


def new_proxy_secret(site: TrackingSite, user: User) -> None:
    """Replace the proxy's secret (a leaked one): beacons with the old one are refused from now on."""
    site.proxy_secret = new_secret()
    _audit(site, user, "proxy_secret_changed")
    site_changed(db.session, site.site_key, site.id)


def proxy_rules(site: TrackingSite, public_url: str):
    """The reverse-proxy rules of first-party mode for this site, or none in standard mode."""
    return proxy_snippets(public_url, site.proxy_secret) if site.first_party else []


def embed_code(site: TrackingSite, public_url: str) -> str:
    if site.first_party:
        return f'<script async src="{PATH_PREFIX}/t/{site.site_key}.js"></script>'
    return f'<script async src="{public_url}/t/{site.site_key}.js"></script>'


@dataclass(frozen=True)
class Status:
    key: str  # receiving | not_receiving | disabled
    label: str
    last_event_at: datetime | None = None
    last_event_path: str | None = None
    # Beacons dropped lately because their page was not on the website: a wrong address, often.
    foreign_pages: int = 0
    # First-party beacons refused lately: not through the website's proxy, or with a wrong secret.
    proxy_refused: int = 0
    # Verified identifies ignored lately: a wrong signature, or verified identify turned off.
    identify_refused: int = 0


def last_event(site: TrackingSite) -> PageView | None:
    """The newest event from the site's current website (any subdomain, `www.` ignored)."""
    host = site_host(site.website_url)
    return db.session.scalar(
        select(PageView)
        .where(PageView.site_id == site.id,
               or_(PageView.host == host, PageView.host == "www." + host,
                   PageView.host.like("%." + host.replace("%", "").replace("_", "\\_"), escape="\\")))
        .order_by(PageView.received_at.desc())
        .limit(1)
    )


def status(site: TrackingSite, now: datetime | None = None) -> Status:
    event = last_event(site)
    seen = dict(last_event_at=event.received_at, last_event_path=event.path) if event else {}
    dropped = dropped_counts(get_redis(), site.id)
    seen["foreign_pages"] = dropped.get("foreign_host", 0)
    if site.first_party:
        seen["proxy_refused"] = sum(dropped.get(reason, 0) for reason in PROXY_REFUSALS)
    seen["identify_refused"] = dropped.get("identify_refused", 0)
    if not site.enabled:
        return Status("disabled", "Disabled", **seen)
    if event and event.received_at >= (now or utcnow()) - RECEIVING_WINDOW:
        return Status("receiving", "Receiving data", **seen)
    return Status("not_receiving", "Not receiving data", **seen)


def parse_recipients(raw: str) -> list[str]:
    """Comma, semicolon or space separated addresses; every one must be valid."""
    try:
        return email_addresses(raw, current_app.config["DEVELOPER_EMAIL_MAX_RECIPIENTS"],
                               "Enter your developer's email address.")
    except ValueError as error:
        raise SetupError(str(error), "recipients") from None


def send_code_to_developer(site: TrackingSite, user: User, recipients: list[str], note: str,
                           public_url: str) -> list[Email]:
    """Queue one email per recipient with the code and step-by-step install instructions."""
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise SetupError(f"Keep the note under {MAX_NOTE_LENGTH:,} characters.", "note")
    _check_developer_email_quota(site.account_id, len(recipients))
    context = dict(site=site, sender=user, note=note, code=embed_code(site, public_url),
                   proxy_rules=proxy_rules(site, public_url),
                   help_url=f"{public_url}/help/install", terms_version=TERMS_VERSION)
    subject = f"Please add the Footfall tracking code to {site.website_url}"
    emails = [
        queue_email(account_id=site.account_id, sent_by_id=user.id, kind="developer_code",
                    to_address=address, reply_to=user.email, subject=subject,
                    text_body=render_template("emails/developer_code.txt", **context),
                    html_body=render_template("emails/developer_code.html", **context))
        for address in recipients
    ]
    _audit(site, user, "code_sent", ", ".join(recipients))
    return emails


def _check_developer_email_quota(account_id: int, wanted: int) -> None:
    """At most DEVELOPER_EMAILS_PER_HOUR code emails per account in any hour: the instance's
    address, carrying a note the sender wrote, must not become anyone's mass mailer."""
    quota = current_app.config["DEVELOPER_EMAILS_PER_HOUR"]
    if quota <= 0:
        raise SetupError("Sending the code by email is turned off on this instance: copy it instead.",
                         "recipients")
    if wanted > quota:
        raise SetupError(f"Send to at most {quota} addresses an hour.", "recipients")
    # The account's row locked (PostgreSQL) until the caller commits: sends in parallel count one
    # after the other, not each as if it were alone.
    db.session.execute(select(Account.id).where(Account.id == account_id).with_for_update())
    since = utcnow() - timedelta(hours=1)
    sent = list(db.session.scalars(
        select(Email.created_at).where(Email.account_id == account_id, Email.kind == "developer_code",
                                       Email.created_at >= since).order_by(Email.created_at)))
    if len(sent) + wanted <= quota:
        return
    if len(sent) < quota:
        raise SetupError(f"You can send the code to {quota - len(sent)} more address"
                         f"{'es' if quota - len(sent) != 1 else ''} this hour.", "recipients")
    free_at = sent[len(sent) + wanted - quota - 1] + timedelta(hours=1)
    minutes = max(1, -(-int((free_at - utcnow()).total_seconds()) // 60))
    raise SetupError(f"The code was sent {quota} times in the last hour, the most allowed. "
                     f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.", "recipients")


def recent_developer_emails(site: TrackingSite, limit: int = 5) -> list[Email]:
    return list(db.session.scalars(
        select(Email).where(Email.account_id == site.account_id, Email.kind == "developer_code")
        .order_by(Email.id.desc()).limit(limit)))


def audit_trail(site: TrackingSite, limit: int = 20) -> list[TrackingAuditEntry]:
    return list(db.session.scalars(
        select(TrackingAuditEntry).where(TrackingAuditEntry.site_id == site.id,
                                         TrackingAuditEntry.account_id == site.account_id)
        .order_by(TrackingAuditEntry.id.desc()).limit(limit)))


_AUDIT_PHRASES = {
    "activated": "Tracking activated for {detail}",
    "terms_accepted": "Tracking terms accepted ({detail})",
    "turned_off": "Tracking turned off",
    "turned_on": "Tracking turned on",
    "website_changed": "Website changed: {detail}",
    "code_sent": "Code sent to {detail}",
    "privacy_changed": "Privacy settings changed: {detail}",
    "link_tagging_changed": "Links tagged with cid: {detail}",
    "serving_changed": "Code served {detail}",
    "proxy_secret_changed": "A new proxy secret was made",
    "identity_rules_changed": "Identity rules changed: {detail}",
    "verified_identify_changed": "Verified identify {detail}",
}


def describe(entry: TrackingAuditEntry) -> str:
    phrase = _AUDIT_PHRASES.get(entry.action, entry.action)
    return phrase.format(detail=entry.detail)


def update_privacy(site: TrackingSite, user: User, *, respect_privacy_signals: bool, retention_days) -> None:
    """The account's privacy settings: browser signals, and how long anonymous views are kept."""
    try:
        days = int(retention_days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise SetupError(f"Keep anonymous page views between 1 and {MAX_RETENTION_DAYS} days.",
                         "retention_days")
    changes = []
    if site.respect_privacy_signals != respect_privacy_signals:
        site.respect_privacy_signals = respect_privacy_signals
        site_changed(db.session, site.site_key, site.id)
        changes.append("browser privacy signals " + ("respected" if respect_privacy_signals else "ignored"))
    if site.anonymous_retention_days != days:
        site.anonymous_retention_days = days
        changes.append(f"anonymous page views kept {days} days")
    if changes:
        _audit(site, user, "privacy_changed", ", ".join(changes))


def set_tag_all_links(site: TrackingSite, user: User, tag_all: bool) -> None:
    """Whether messages tag every http(s) link with cid, or only links to the tracked website."""
    account = db.session.get(Account, site.account_id)
    if account.tag_all_links != tag_all:
        account.tag_all_links = tag_all
        _audit(site, user, "link_tagging_changed", "all links" if tag_all else "links to the website only")


def set_identity_rules(site: TrackingSite, user: User, *, browsers_per_contact, attach_earlier: bool) -> None:
    """How many browsers one contact's links identify, and whether identifying a browser attaches
    its earlier anonymous page views (app/tracking/identity.py)."""
    try:
        limit = int(browsers_per_contact)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_BROWSERS_PER_CONTACT:
        raise SetupError(f"Allow between 1 and {MAX_BROWSERS_PER_CONTACT} browsers per contact.",
                         "browsers_per_contact")
    account = db.session.get(Account, site.account_id)
    changes = []
    if account.browsers_per_contact != limit:
        account.browsers_per_contact = limit
        changes.append(f"at most {limit} browser{'s' if limit != 1 else ''} per contact")
    if account.attach_earlier_visits != attach_earlier:
        account.attach_earlier_visits = attach_earlier
        changes.append("earlier visits attached" if attach_earlier else "earlier visits not attached")
    if changes:
        _audit(site, user, "identity_rules_changed", ", ".join(changes))


def set_verified_identify(site: TrackingSite, user: User, on: bool, *, new_secret: bool = False) -> bool:
    """Turn verified identify on (making its secret) or off (forgetting it, so a leaked one is
    dead), or replace the secret; returns whether anything changed."""
    if bool(site.identify_secret) == on and not (on and new_secret):
        return False
    site.identify_secret = new_identify_secret() if on else ""
    _audit(site, user, "verified_identify_changed",
           "secret replaced" if on and new_secret else "turned on" if on else "turned off")
    site_changed(db.session, site.site_key, site.id)
    return True


def send_test_link(site: TrackingSite, user: User, public_url: str) -> Email:
    """Email the user a link to their website tagged for them as a contact, to check identification."""
    contact = people.contact_for_user(site.account_id, user.email)
    link = tag_url(site.website_url + "/", make_cid(site.account_id, contact.id, channel="test"))
    context = dict(site=site, link=link, contact=contact, settings_url=f"{public_url}/settings/tracking")
    return queue_email(account_id=site.account_id, sent_by_id=user.id, kind="test_link",
                       to_address=user.email, subject=f"Your Footfall test link for {site.website_url}",
                       text_body=render_template("emails/test_link.txt", **context),
                       html_body=render_template("emails/test_link.html", **context))


def _install_check_key(site: TrackingSite) -> str:
    return f"footfall:install-check:{site.id}"


def request_install_check(site: TrackingSite) -> None:
    """Queue a fetch of the website (a job: it may take seconds); the result replaces the last one."""
    get_redis().set(_install_check_key(site), json.dumps({"outcome": "pending"}), ex=INSTALL_CHECK_TTL)
    enqueue("worker.jobs.tracking.check_installation", site.id, job_id=f"install-check-{site.id}")


def install_check_result(site: TrackingSite) -> dict | None:
    raw = get_redis().get(_install_check_key(site))
    return json.loads(raw) if raw else None


def run_install_check(site_id: int, *, allow_private: bool) -> dict | None:
    site = db.session.get(TrackingSite, site_id)
    if site is None:
        return None
    result = check_installation(site.website_url, site.site_key, allow_private=allow_private)
    if site.first_party and result.outcome == "found_in_head":
        result = check_proxy(result, site.site_key, allow_private=allow_private)
    stored = {"outcome": result.outcome, "message": result.message, "final_url": result.final_url,
              "checked_at": utcnow().isoformat(timespec="seconds")}
    get_redis().set(_install_check_key(site), json.dumps(stored), ex=INSTALL_CHECK_TTL)
    return stored
