"""Rendering a message for each recipient: a campaign's, or an automation step's.

A `Message` is what every recipient gets the same; the `Renderer` makes one recipient's copy:
its merge fields filled with the recipient's values (app/messaging/personalise.py), each link to
the tracked website tagged with the recipient's `cid` and routed through the click redirect, an
unsubscribe link, and the plain-text part. What is the same for all recipients
(the account's website, whether it tags every link) is read once per renderer, that is once per
batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import render_template

from app.extensions import db
from app.messaging import mail, sms
from app.messaging.links import tag_url
from app.messaging.markup import html_to_text, rewrite_links
from app.messaging.personalise import Personaliser
from app.messaging.tokens import Click, Unsubscribe, click_token, permanent_token, unsubscribe_token
from app.models import Account, Campaign, Contact
from app.models.types import utcnow
from app.tracking.cid import make_cid
from app.tracking.setup import get_site
from app.tracking.urls import host_matches, site_host


@dataclass(frozen=True)
class Message:
    """What is rendered: the same for every recipient."""

    account_id: int
    body: str  # the email's HTML, or the text message
    subject: str = ""
    from_name: str = ""
    tag_links: bool = True
    # The campaign it belongs to: its click links and web version name it. Automation messages have none.
    campaign_id: int | None = None
    # The message id a recipient's `cid` carries: the campaign's, or the automation's (then its
    # channel says so: automation_email, automation_sms).
    cid_message_id: int = 0
    from_automation: bool = False

    @classmethod
    def of_campaign(cls, campaign: Campaign) -> Message:
        return cls(account_id=campaign.account_id, body=campaign.body, subject=campaign.subject,
                   from_name=campaign.from_name, tag_links=campaign.tag_links, campaign_id=campaign.id,
                   cid_message_id=campaign.id)


def should_tag(url: str, website_host: str | None, tag_all_links: bool) -> bool:
    """Links to the tracked website (host or subdomain, `www.` ignored), or every http(s) link."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return False
    return tag_all_links or (website_host is not None and host_matches(url, website_host))


class Renderer:
    """Renders one message for each recipient, with what is the same for all computed once."""

    def __init__(self, message: Message, public_url: str, *, links_expire: int | None = None):
        """`links_expire`: the Unix time after which click links stop redirecting (test sends)."""
        self.message, self.public_url, self.links_expire = message, public_url, links_expire
        account = db.session.get(Account, message.account_id)
        site = get_site(message.account_id)
        self.website_host = site_host(site.website_url) if site and site.enabled else None
        self.tag_all = account.tag_all_links
        self.personaliser = Personaliser(message.account_id)

    def _line(self, source: str, contact: Contact | None) -> str:
        """A header's text (subject, From name) for the contact: one line whatever their values hold."""
        return " ".join(self.personaliser.render(source, contact).split())

    def link(self, url: str, contact: Contact | None, channel: str,
             email_id: int | None = None) -> str | None:
        """The address a link in the message points to: tagged for the contact, through the click redirect."""
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            return None
        message, destination = self.message, url
        if contact is not None and message.tag_links and should_tag(url, self.website_host, self.tag_all):
            cid_channel = f"automation_{channel}" if message.from_automation else channel
            destination = tag_url(url, make_cid(message.account_id, contact.id, message.cid_message_id,
                                                cid_channel))
        click = Click(message.account_id, message.campaign_id, contact.id if contact else None, channel,
                      destination, email_id, self.links_expire)
        return f"{self.public_url}/c/{click_token(click)}"

    def unsubscribe_url(self, contact: Contact, channel: str) -> str:
        issued = int(utcnow().timestamp())
        token = unsubscribe_token(Unsubscribe(contact.account_id, contact.id, channel, issued))
        return f"{self.public_url}/u/{token}"

    def email(self, contact: Contact, email_id: int | None = None, *,
              values_of: Contact | None = None) -> dict:
        """The subject, From name, HTML and text parts and unsubscribe headers of the contact's
        email; its merge fields filled with the values of `values_of` when given (a test sent to
        a user as one of the contacts: its links still identify the user, not that contact)."""
        message, who = self.message, values_of or contact
        body = self.personaliser.render(message.body, who, html=True)
        body = rewrite_links(body, lambda url: self.link(url, contact, "email", email_id))
        unsubscribe = self.unsubscribe_url(contact, "email")
        # (A test's campaign may not be sent yet: its web version opens once it is.)
        web_url = permanent_url(message.campaign_id, self.public_url) \
            if message.campaign_id and not self.links_expire else None
        html = render_template("emails/campaign.html", body=body, unsubscribe_url=unsubscribe,
                               web_url=web_url)
        return {"subject": self._line(message.subject, who)[:300],
                "from_name": mail.sender_name(self.personaliser.render(message.from_name, who)),
                "html_body": html, "text_body": html_to_text(html),
                "headers": f"List-Unsubscribe: <{unsubscribe}>\n"
                           "List-Unsubscribe-Post: List-Unsubscribe=One-Click"}

    def sms(self, contact: Contact) -> str:
        """The text with each link tagged for the contact, then shortened; and a short opt-out link."""
        message = self.message

        def short(url: str) -> str:
            target = self.link(url, contact, "sms") or url
            code = sms.make_short_link(account_id=message.account_id, url=target,
                                       campaign_id=message.campaign_id, contact_id=contact.id).code
            return f"{self.public_url}/s/{code}"

        text = sms.shorten_links(self.personaliser.render(message.body, contact), short)
        stop = sms.make_short_link(account_id=message.account_id,
                                   url=self.unsubscribe_url(contact, "sms"), campaign_id=message.campaign_id,
                                   contact_id=contact.id).code
        return f"{text}\nStop: {self.public_url}/s/{stop}"


def permanent_url(campaign_id: int, public_url: str) -> str:
    """The campaign's web version: the same for every reader."""
    return f"{public_url}/m/{permanent_token(campaign_id)}"


def permanent_html(campaign: Campaign, contact: Contact | None = None) -> str:
    """The public web view: the message as written, its merge fields with their defaults, links
    untagged, so readers stay anonymous. With a contact: their copy's text (the editor's preview)."""
    body = Personaliser(campaign.account_id).render(campaign.body, contact, html=True)
    return render_template("emails/campaign.html", body=body, unsubscribe_url=None, web_url=None)
