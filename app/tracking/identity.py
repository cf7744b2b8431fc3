"""Who a page view belongs to: the browsers identified as contacts, and the rules that decide it.

A browser is a visitor id of a site (the `_ff_vid` cookie). It becomes a contact's when a link of
theirs arrives on it (a `cid`) or the website's server vouches for a signed-in customer (verified
identify: an HMAC of their email), and its page views belong to that contact from then on, with
or without the link's token. Peers silently merge people here; Footfall decides deliberately:

- The latest click wins: a link of contact B arriving on a browser identified as A switches it to
  B; both timelines show the switch (IdentityChange rows).
- One contact's links identify at most `Account.browsers_per_contact` browsers seen within the
  last FORWARD_WINDOW; a further browser arriving with their link meanwhile is recorded anonymous
  and flagged "possibly forwarded" (someone they forwarded the message to). A signed-in customer
  is proof, not a forwarded link: verified identify is not limited.
- "Forget this browser" makes it anonymous: links issued before then no longer identify it (its
  cookie may still hold one); a new click does.
- With the account's "earlier visits" on, identifying a browser attaches its anonymous page views
  from the site's retention window to the contact (`PageView.attached_at`): they count in segments
  and never fire page-view triggers (only the batch's own views are announced to automations).

Everything is decided for a whole batch of the event pipeline (app/tracking/events.py) in a few
queries: the batch's browsers, the candidate contacts' browser counts and the accounts' rules; a
returning browser's row is written at most once a minute.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, tuple_, update

from app.extensions import db
from app.models import Account, Browser, IdentityChange, PageView, TrackingSite
from app.models.types import utcnow
from app.tracking.proxy_snippets import ProxySnippet

FORWARD_WINDOW = timedelta(days=30)
TOUCH_EVERY = timedelta(minutes=1)
MAX_BROWSERS_PER_CONTACT = 20
SIGN_IN = "sign-in"  # the channel of a browser identified by verified identify

# IdentityChange.kind
IDENTIFIED, SWITCHED_IN, SWITCHED_OUT, FORWARDED, FORGOTTEN, ATTACHED = (
    "identified", "switched_in", "switched_out", "forwarded", "forgotten", "attached")


@dataclass(frozen=True)
class Claim:
    """A contact a page view says it is: a link's token, or a verified sign-in."""

    contact_id: int
    issued: datetime  # when the link was made (a sign-in: when it was vouched for)
    message_id: int = 0
    channel: str = ""
    verified: bool = False


def resolve(views: list[dict], claims: dict[str, Claim], sites: dict[int, TrackingSite],
            identified: list[Identified] | None = None) -> set[tuple[int, int]]:
    """Set each view's `contact_id` (views: the batch's page-view rows in stream order, each with
    event_id, account_id, site_id, visitor_id, device, received_at; `claims` by event id) and
    record what changed about browsers. Returns the (account id, contact id) pairs that got
    earlier views attached, whose segments must be evaluated again; appends to `identified` the
    browsers identified as a contact they were not before (flushed: they have ids)."""
    pairs = {(view["site_id"], view["visitor_id"]) for view in views if view["visitor_id"]}
    if not pairs:
        return set()
    browsers = {(browser.site_id, browser.visitor_id): browser for browser in db.session.scalars(
        select(Browser).where(tuple_(Browser.site_id, Browser.visitor_id).in_(sorted(pairs))))}
    accounts = {account_id: (limit, attach) for account_id, limit, attach in db.session.execute(
        select(Account.id, Account.browsers_per_contact, Account.attach_earlier_visits)
        .where(Account.id.in_({view["account_id"] for view in views})))}
    # Only contacts whose link arrived on a browser not theirs (yet) may reach their limit.
    candidates = {claim.contact_id for view in views if (claim := claims.get(view["event_id"]))
                  and not claim.verified and getattr(browsers.get((view["site_id"], view["visitor_id"])),
                                                     "contact_id", None) != claim.contact_id}
    counts = _browser_counts(candidates, min(view["received_at"] for view in views) - FORWARD_WINDOW)
    decider = _Decider(browsers, counts, accounts)
    for view in views:
        decider.decide(view, claims.get(view["event_id"]))
    db.session.flush()
    for change in decider.changes:
        change.browser_id = change.browser_id or (change.browser.id if change.browser else None)
    db.session.add_all(IdentityChange(**change.row()) for change in decider.changes)
    if identified is not None:
        identified += [Identified(change.account_id, change.contact_id, change.browser_id,
                                  change.browser.device, change.browser.channel, change.at)
                       for change in decider.changes
                       if change.kind in (IDENTIFIED, SWITCHED_IN) and change.browser]
    attached = set()
    for browser, since_when, at in decider.newly_identified:
        # (not if a later view of the batch made it anonymous again: flagged, say)
        if accounts.get(browser.account_id, (0, False))[1] and browser.contact_id is not None:
            site = sites[browser.site_id]
            count = _attach_earlier(browser, max(at - timedelta(days=site.anonymous_retention_days),
                                                 since_when or at - FORWARD_WINDOW), at)
            if count:
                attached.add((browser.account_id, browser.contact_id))
                db.session.add(IdentityChange(account_id=browser.account_id, contact_id=browser.contact_id,
                                              browser_id=browser.id, kind=ATTACHED, device=browser.device,
                                              count=count, at=at))
    return attached


def _browser_counts(contact_ids: set[int], since: datetime) -> dict[int, int]:
    if not contact_ids:
        return {}
    return dict(db.session.execute(
        select(Browser.contact_id, func.count()).where(Browser.contact_id.in_(contact_ids),
                                                       Browser.last_seen_at >= since)
        .group_by(Browser.contact_id)).all())


def _attach_earlier(browser: Browser, since: datetime, before: datetime) -> int:
    """Attach the browser's anonymous page views from `since` to before `before` to its contact."""
    result = db.session.execute(
        update(PageView).where(PageView.site_id == browser.site_id, PageView.visitor_id == browser.visitor_id,
                               PageView.contact_id.is_(None), PageView.received_at >= since,
                               PageView.received_at < before)
        .values(contact_id=browser.contact_id, attached_at=utcnow()),
        execution_options={"synchronize_session": False})
    return result.rowcount or 0


@dataclass
class Identified:
    """A browser identified as a contact (new to them): what `contact.identified` webhooks carry."""

    account_id: int
    contact_id: int
    browser_id: int
    device: str
    channel: str
    at: datetime


@dataclass
class _Change:
    account_id: int
    contact_id: int
    kind: str
    at: datetime
    browser: Browser | None = None
    browser_id: int | None = None
    other_contact_id: int | None = None

    def row(self) -> dict:
        return dict(account_id=self.account_id, contact_id=self.contact_id, kind=self.kind, at=self.at,
                    browser_id=self.browser_id, other_contact_id=self.other_contact_id,
                    device=self.browser.device if self.browser else "")


class _Decider:
    def __init__(self, browsers: dict, counts: dict[int, int], accounts: dict[int, tuple[int, bool]]):
        self.browsers, self.counts, self.accounts = browsers, counts, accounts
        self.changes: list[_Change] = []
        # (browser, anonymous since: views before then are not theirs to attach, time identified)
        self.newly_identified: list[tuple[Browser, datetime | None, datetime]] = []
        self._anonymous_in_batch: dict[tuple[int, str], list[dict]] = defaultdict(list)

    def decide(self, view: dict, claim: Claim | None) -> None:
        key = (view["site_id"], view["visitor_id"])
        browser = self.browsers.get(key) if view["visitor_id"] else None
        at = view["received_at"]
        if claim is not None and browser is not None and browser.forgotten_at is not None \
                and claim.issued < browser.forgotten_at and not claim.verified:
            claim = None  # a link from before "Forget this browser"
        if claim is not None and view["visitor_id"] and (browser is None
                                                         or browser.contact_id != claim.contact_id):
            browser = self._claimed(view, browser, claim, at)
        if browser is not None:
            self._touch(browser, view, at)
        view["contact_id"] = browser.contact_id if browser is not None else None
        if view["contact_id"] is None and view["visitor_id"]:
            self._anonymous_in_batch[key].append(view)

    def _claimed(self, view: dict, browser: Browser | None, claim: Claim, at: datetime) -> Browser:
        """A contact's link (or sign-in) arrived on a browser not theirs: theirs now, or flagged."""
        limit = self.accounts.get(view["account_id"], (3, False))[0]
        previous = browser.contact_id if browser is not None else None
        if browser is None:
            browser = Browser(account_id=view["account_id"], site_id=view["site_id"],
                              visitor_id=view["visitor_id"], device=view["device"], first_seen_at=at,
                              last_seen_at=at)
            db.session.add(browser)
            self.browsers[(view["site_id"], view["visitor_id"])] = browser
        if not claim.verified and self.counts.get(claim.contact_id, 0) >= limit:
            if browser.forwarded_contact_id != claim.contact_id or previous is not None:
                self.changes.append(_Change(view["account_id"], claim.contact_id, FORWARDED, at, browser))
            if previous is not None:
                self.changes.append(_Change(view["account_id"], previous, SWITCHED_OUT, at, browser,
                                            other_contact_id=claim.contact_id))
                self.counts[previous] = max(self.counts.get(previous, 1) - 1, 0)
            browser.contact_id, browser.forwarded_contact_id = None, claim.contact_id
            browser.message_id, browser.channel = claim.message_id, claim.channel or "email"
            return browser
        anonymous_since = browser.forgotten_at
        browser.contact_id, browser.forwarded_contact_id, browser.forgotten_at = claim.contact_id, None, None
        browser.message_id, browser.channel = claim.message_id, claim.channel or "email"
        self.counts[claim.contact_id] = self.counts.get(claim.contact_id, 0) + 1
        if previous is None:
            self.changes.append(_Change(view["account_id"], claim.contact_id, IDENTIFIED, at, browser))
            self.newly_identified.append((browser, anonymous_since, at))
            # (this batch's anonymous views of the browser, before this one: earlier ones too)
            if self.accounts.get(view["account_id"], (3, False))[1]:
                for earlier in self._anonymous_in_batch.pop((view["site_id"], view["visitor_id"]), []):
                    if anonymous_since is None or earlier["received_at"] >= anonymous_since:
                        earlier["contact_id"], earlier["attached_at"] = claim.contact_id, at
        else:
            self.counts[previous] = max(self.counts.get(previous, 1) - 1, 0)
            self.changes.append(_Change(view["account_id"], claim.contact_id, SWITCHED_IN, at, browser,
                                        other_contact_id=previous))
            self.changes.append(_Change(view["account_id"], previous, SWITCHED_OUT, at, browser,
                                        other_contact_id=claim.contact_id))
        return browser

    @staticmethod
    def _touch(browser: Browser, view: dict, at: datetime) -> None:
        if at - browser.last_seen_at >= TOUCH_EVERY or browser.device != view["device"]:
            browser.last_seen_at, browser.device = max(at, browser.last_seen_at), view["device"]


# The contact page: their browsers, "Forget this browser" -------------------------------------------

def contact_browsers(account_id: int, contact_id: int) -> tuple[list[Browser], list[Browser]]:
    """(the browsers identified as the contact, the browsers flagged as possibly forwarded by
    them), the latest seen first."""
    rows = db.session.scalars(
        select(Browser).where(Browser.account_id == account_id,
                              (Browser.contact_id == contact_id)
                              | (Browser.forwarded_contact_id == contact_id))
        .order_by(Browser.last_seen_at.desc()).limit(100)).all()
    return ([browser for browser in rows if browser.contact_id == contact_id],
            [browser for browser in rows if browser.contact_id != contact_id])


def forget_browser(account_id: int, contact_id: int, browser_id: int) -> bool:
    """Make one of the contact's browsers anonymous from now on; False if it is not theirs."""
    browser = db.session.scalar(select(Browser).where(
        Browser.id == browser_id, Browser.account_id == account_id,
        (Browser.contact_id == contact_id) | (Browser.forwarded_contact_id == contact_id)))
    if browser is None:
        return False
    now = utcnow()
    if browser.contact_id == contact_id:
        db.session.add(IdentityChange(account_id=account_id, contact_id=contact_id, browser_id=browser.id,
                                      kind=FORGOTTEN, device=browser.device, at=now))
    browser.contact_id, browser.forwarded_contact_id, browser.forgotten_at = None, None, now
    return True


def timeline_changes(account_id: int, contact_id: int, limit: int = 100) -> list[IdentityChange]:
    return list(db.session.scalars(
        select(IdentityChange).where(IdentityChange.account_id == account_id,
                                     IdentityChange.contact_id == contact_id)
        .order_by(IdentityChange.at.desc()).limit(limit)))


def describe(change: IdentityChange) -> str:
    """A timeline line about the contact's browsers, in words."""
    other = change.other_contact
    someone = (other.name or other.email) if other is not None else "a contact deleted since"
    return {
        IDENTIFIED: "Identified on a new browser",
        SWITCHED_IN: f"A browser identified as {someone} opened this contact's link: it is theirs now",
        SWITCHED_OUT: f"One of their browsers opened a link of {someone}'s: it is no longer theirs",
        FORWARDED: "Possibly forwarded: another browser opened their link (recorded as anonymous)",
        FORGOTTEN: "A browser of theirs was forgotten: anonymous from then on",
        ATTACHED: f"{change.count} earlier anonymous page view{'s' if change.count != 1 else ''} of the "
                  "browser attached",
    }.get(change.kind, change.kind)


def forwarded_counts(account_id: int, message_id: int, channels: tuple[str, ...]) -> int:
    """How many browsers a message's links arrived on and were flagged as possibly forwarded."""
    return db.session.scalar(select(func.count()).select_from(Browser).where(
        Browser.account_id == account_id, Browser.forwarded_contact_id.is_not(None),
        Browser.message_id == message_id, Browser.channel.in_(channels))) or 0


# Verified identify ---------------------------------------------------------------------------------

def new_identify_secret() -> str:
    return secrets.token_urlsafe(32)


def signature(secret: str, email: str) -> str:
    """What the website's server sends with a signed-in customer's email: HMAC-SHA256, in hex."""
    return hmac.new(secret.encode(), email.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, email: str, given: str) -> bool:
    return bool(secret) and hmac.compare_digest(signature(secret, email), given.lower())


def server_snippets(secret: str) -> list[ProxySnippet]:
    """The website server's side of verified identify, ready to paste with the secret filled in
    (tests run the Python and Node ones and compare their signatures with signature())."""
    secret = secret or "YOUR-IDENTIFY-SECRET"
    return [
        ProxySnippet("python", "Python", "in the code that renders pages for a signed-in customer", f'''\
import hashlib, hmac

FOOTFALL_IDENTIFY_SECRET = "{secret}"  # keep it on the server

def footfall_signature(email: str) -> str:
    return hmac.new(FOOTFALL_IDENTIFY_SECRET.encode(), email.encode(), hashlib.sha256).hexdigest()
'''),
        ProxySnippet("php", "PHP", "in the template of pages for a signed-in customer", f'''\
<?php
$footfall_identify_secret = '{secret}'; // keep it on the server
$footfall_signature = hash_hmac('sha256', $email, $footfall_identify_secret);
?>
'''),
        ProxySnippet("node", "Node.js", "in the code that renders pages for a signed-in customer", f'''\
const crypto = require("crypto");

const FOOTFALL_IDENTIFY_SECRET = "{secret}"; // keep it on the server

function footfallSignature(email) {{
  return crypto.createHmac("sha256", FOOTFALL_IDENTIFY_SECRET).update(email, "utf8").digest("hex");
}}
'''),
        ProxySnippet("page", "The page", "in the page, after the embed code, with the values your server "
                     "computed", '''\
<script>
  window.footfall = window.footfall || function () { (footfall.q = footfall.q || []).push(arguments); };
  footfall("identify", {email: "ada@example.com", signature: "<the signature of that email>"});
</script>
'''),
    ]
