"""The one delivery path for every SMS the product sends, its length rules and its short links.

An SMS is stored as an `SmsMessage` row and delivered by the `deliver_sms` job through a transport:
a Twilio-compatible REST API when SMS_URL is set, otherwise the outbox (the row itself).
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import string
import urllib.request
from dataclasses import dataclass
from typing import Callable, Literal, Protocol
from urllib.error import HTTPError
from urllib.parse import unquote, urlencode, urlsplit

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.messaging import journal
from app.metrics import count_deliveries
from app.models import ShortLink, SmsMessage
from app.models.messaging import DELIVERED, DeliveryStatus
from app.signals import FailedMessage, messages_failed
from app.models.types import utcnow
from app.queues import enqueue_after_commit

# 3GPP TS 23.038, 6.2.1: the GSM 7-bit default alphabet in code order, 16 per row. 0x1B is the
# escape to the extension table, not a character, so it is left out of the data.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# 6.2.1.1: the extension table; each character is sent as escape + code, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsLength:
    encoding: Literal["GSM-7", "UCS-2"]
    # Units as the encoding counts them: septets for GSM-7, UTF-16 code units for UCS-2.
    characters: int
    segments: int


def sms_segments(text: str) -> SmsLength:
    """How a text is encoded and into how many segments a carrier splits it."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        widths = [2 if char in GSM7_EXTENSION else 1 for char in text]
        return SmsLength("GSM-7", sum(widths), _count_segments(widths, GSM7_SINGLE, GSM7_PART))
    widths = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return SmsLength("UCS-2", sum(widths), _count_segments(widths, UCS2_SINGLE, UCS2_PART))


def _count_segments(widths: list[int], single: int, part: int) -> int:
    total = sum(widths)
    if total == 0:
        return 0
    if total <= single:
        return 1
    # A segment never ends between an escape and its character, or inside a surrogate pair.
    segments, used = 1, 0
    for width in widths:
        if used + width > part:
            segments, used = segments + 1, 0
        used += width
    return segments


class SmsTransport(Protocol):
    name: str

    def send(self, to: str, body: str) -> str: ...


class OutboxSmsTransport:
    """Keeps the message in the database only: the demo and laptops need no SMS provider."""

    name = "outbox"

    def send(self, to: str, body: str) -> str:
        return ""


class SmsProviderError(RuntimeError):
    """The provider refused the message or answered something other than a message id."""


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET without the message: fail instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_RefuseRedirects)


@dataclass
class HttpSmsTransport:
    """Twilio's Messages API, or any provider that speaks it."""

    base_url: str
    account_sid: str
    auth_token: str
    from_number: str
    timeout: float = 15.0
    name: str = "http"

    @classmethod
    def from_url(cls, url: str) -> "HttpSmsTransport":
        parts = urlsplit(url)
        # Read the query by hand: parse_qs would turn an unencoded "+1555…" into " 1555…".
        query = dict(pair.partition("=")[::2] for pair in parts.query.split("&") if pair)
        from_number = unquote(query.get("from", ""))
        if parts.scheme not in ("http", "https") or not parts.hostname or not parts.username \
                or not parts.password or not from_number:
            raise ValueError("SMS_URL must look like "
                             "https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com/2010-04-01?from=%2B15551234567")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        return cls(base_url=f"{parts.scheme}://{host}{parts.path.rstrip('/')}",
                   account_sid=unquote(parts.username), auth_token=unquote(parts.password),
                   from_number=from_number)

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/Accounts/{self.account_sid}/Messages.json"

    def send(self, to: str, body: str) -> str:
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(
            self.messages_url, method="POST",
            data=urlencode({"To": to, "From": self.from_number, "Body": body}).encode(),
            headers={"Authorization": f"Basic {credentials}", "Accept": "application/json",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                answer = _json(response.read())
        except HTTPError as error:
            with error:
                message = _json(error.read()).get("message")
            raise SmsProviderError(f"HTTP {error.code}" + (f": {message}" if message else "")) from None
        sid = answer.get("sid")
        if not sid:
            raise SmsProviderError(f"HTTP {response.status} without a message sid")
        return str(sid)


def _json(raw: bytes) -> dict:
    try:
        answer = json.loads(raw)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def current_sms_transport() -> SmsTransport:
    url = current_app.config.get("SMS_URL")
    return HttpSmsTransport.from_url(url) if url else OutboxSmsTransport()


def queue_sms(*, account_id: int, to_number: str, body: str, campaign_id: int | None = None,
              contact_id: int | None = None) -> SmsMessage:
    """Store an SMS and have it delivered once the caller commits."""
    sms = SmsMessage(account_id=account_id, campaign_id=campaign_id, contact_id=contact_id,
                     to_number=to_number, body=body, status=DeliveryStatus.QUEUED)
    db.session.add(sms)
    db.session.flush()
    enqueue_after_commit(db.session, "worker.jobs.sms.deliver_sms", sms.id)
    return sms


def deliver_sms(sms_id: int, *, final_attempt: bool) -> SmsMessage | None:
    """Send one stored SMS; record the outcome. Raises on failure so the job is retried."""
    sms = db.session.get(SmsMessage, sms_id)
    if sms is None or sms.status in DELIVERED:
        return sms
    transport = current_sms_transport()
    sms.attempts += 1
    sms.transport = transport.name
    notes = journal.keys([sms]) if transport.name == "http" else {}
    # Sent by an earlier try whose commit failed (the database went away): not sent again.
    sent_before = journal.handed_over(notes)
    try:
        if sms.id in sent_before:
            provider_id = sent_before[sms.id]
        else:
            provider_id = transport.send(sms.to_number, sms.body)
            if notes:
                journal.record_handed_over(notes[sms.id], provider_id)
    except Exception as error:  # any transport failure is recorded, then retried by RQ
        sms.status = DeliveryStatus.FAILED if final_attempt else DeliveryStatus.RETRYING
        sms.error = f"{type(error).__name__}: {error}"[:2000]
        if final_attempt and sms.contact_id:
            messages_failed.send(messages=[FailedMessage("sms", sms.id, sms.account_id, sms.contact_id,
                                                         sms.campaign_id, sms.to_number, sms.error)])
        db.session.commit()
        count_deliveries("sms", failed_attempts=1, failed=1 if final_attempt else 0)
        raise
    sms.status = DeliveryStatus.SENT if transport.name == "http" else DeliveryStatus.OUTBOX
    # Cut to the column: a commit failing for its length would leave the outcome unrecorded.
    sms.provider_id = provider_id[:64]
    sms.error = ""
    sms.delivered_at = utcnow()
    db.session.commit()
    count_deliveries("sms", sent=1)
    return sms


SHORT_CODE_ALPHABET = string.ascii_letters + string.digits
SHORT_CODE_LENGTH = 8


def _new_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def make_short_link(*, account_id: int, url: str, campaign_id: int | None = None,
                    contact_id: int | None = None) -> ShortLink:
    """A new short link to `url` (already tagged), stored in the caller's transaction."""
    for _ in range(5):
        code = _new_code()
        if resolve_short_link(code) is None:
            break
    else:  # 62**8 codes: five collisions in a row mean the generator is broken
        raise RuntimeError("could not find a free short link code")
    link = ShortLink(code=code, account_id=account_id, campaign_id=campaign_id, contact_id=contact_id,
                     url=url)
    db.session.add(link)
    db.session.flush()
    return link


def resolve_short_link(code: str) -> ShortLink | None:
    return db.session.scalar(select(ShortLink).where(ShortLink.code == code))


# A URL runs to the next whitespace; what follows "://" must start with something URL-like.
_URL = re.compile(r"\bhttps?://[^\s.,!?;:)\]'\"]\S*", re.IGNORECASE)
_TRAILING = ".,!?;:)]'\""


def shorten_links(text: str, make_url: Callable[[str], str]) -> str:
    """Replace every http(s) URL in an SMS text by make_url(url), keeping punctuation after it."""
    def replace(match: re.Match) -> str:
        url = match.group()
        while url[-1] in _TRAILING:
            # A closing parenthesis that opens inside the URL belongs to it (Wikipedia links).
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        return make_url(url) + match.group()[len(url):]
    return _URL.sub(replace, text)
