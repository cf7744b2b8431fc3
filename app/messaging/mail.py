"""The one delivery path for every email the product sends.

An email is stored as an `Email` row and delivered by the `deliver_email` job through a transport:
SMTP when MAIL_URL is set, otherwise the outbox (the row itself, readable in the app).
"""
from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select

from app.extensions import db
from app.messaging import journal
from app.metrics import count_deliveries
from app.models import Email
from app.models.messaging import DELIVERED, DeliveryStatus
from app.signals import FailedMessage, messages_failed
from app.models.types import utcnow
from app.queues import enqueue_after_commit


Send = Callable[[EmailMessage], None]


class MailTransport(Protocol):
    name: str

    def connection(self) -> AbstractContextManager[Send]:
        """One connection over which several messages can be sent."""


class OutboxTransport:
    """Keeps the message in the database only: the demo and laptops need no mail server."""

    name = "outbox"

    @contextmanager
    def connection(self):
        yield lambda message: None


@dataclass
class SmtpTransport:
    host: str
    port: int
    username: str = ""
    password: str = ""
    use_ssl: bool = False
    starttls: bool = False
    timeout: float = 15.0
    name: str = "smtp"

    @classmethod
    def from_url(cls, url: str) -> "SmtpTransport":
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("MAIL_URL must look like smtp://user:pass@host:587?starttls=true")
        query = parse_qs(parts.query)
        use_ssl = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if use_ssl else 25),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            use_ssl=use_ssl,
            starttls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
            timeout=float(query.get("timeout", ["15"])[0]),
        )

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        name = _local_hostname()
        if self.use_ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context,
                                      local_hostname=name)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname=name)
        try:
            if self.starttls:
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password)
        except Exception:
            client.close()
            raise
        return client

    @property
    def _key(self) -> tuple:
        return (self.host, self.port, self.username, self.use_ssl, self.starttls)

    @contextmanager
    def connection(self):
        """A connection kept open in this process between jobs: connecting, greeting and logging in
        cost more than sending one message. A connection the server dropped is opened again once."""
        reused = self._key in _open_connections

        def send(message: EmailMessage) -> None:
            nonlocal reused
            if self._key not in _open_connections:
                _open_connections[self._key] = self._connect()
            try:
                _open_connections[self._key].send_message(message)
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                if not reused:  # a connection opened just now failed: that is the server's answer
                    raise
                reused = False  # the server closed a kept connection: open a new one, once
                self._drop()
                _open_connections[self._key] = self._connect()
                _open_connections[self._key].send_message(message)

        try:
            yield send
        except Exception:
            self._drop()
            raise

    def _drop(self) -> None:
        client = _open_connections.pop(self._key, None)
        if client is not None:
            try:
                client.close()
            except OSError:
                pass


# Open SMTP connections of this process, by server and credentials.
_open_connections: dict[tuple, smtplib.SMTP] = {}


@lru_cache(maxsize=1)
def _local_hostname() -> str:
    """The name given in EHLO, looked up once: smtplib would ask the resolver on every connection."""
    return socket.getfqdn()


def current_transport() -> MailTransport:
    url = current_app.config.get("MAIL_URL")
    return SmtpTransport.from_url(url) if url else OutboxTransport()


MAX_FROM_NAME = 100


# What splits a mail header into lines (str.splitlines' breaks): a subject carrying one would make
# every message fail as it is sent.
_LINE_BREAK = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def breaks_lines(text: str | None) -> bool:
    return bool(_LINE_BREAK.search(text or ""))


def sender_name(text: str | None) -> str:
    """A name for the From header: one line (no header can be added through it), at most 100
    characters (the longest the email row keeps)."""
    return " ".join((text or "").split())[:MAX_FROM_NAME]


def email_addresses(raw: str, most: int, missing: str) -> list[str]:
    """Comma, semicolon, space or line separated addresses, each valid, at most `most`, without
    repeats; ValueError names the first that is wrong (`missing`: the words when there is none)."""
    separated = raw.replace(";", ",").replace("\n", ",").replace(" ", ",")
    candidates = [part.strip() for part in separated.split(",") if part.strip()]
    if not candidates:
        raise ValueError(missing)
    if len(candidates) > most:
        raise ValueError(f"Send to at most {most} addresses at once.")
    addresses = []
    for candidate in candidates:
        try:
            checked = validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            raise ValueError(f"“{candidate[:80]}” is not a valid email address.") from None
        if checked.normalized not in addresses:
            addresses.append(checked.normalized)
    return addresses


def queue_email(*, account_id: int, kind: str, to_address: str, subject: str, text_body: str,
                html_body: str, sent_by_id: int | None = None, reply_to: str = "",
                from_name: str = "") -> Email:
    """Store an email and have it delivered once the caller commits."""
    email = Email(account_id=account_id, sent_by_id=sent_by_id, kind=kind, to_address=to_address,
                  reply_to=reply_to, from_name=from_name, subject=subject, text_body=text_body,
                  html_body=html_body, status=DeliveryStatus.QUEUED)
    db.session.add(email)
    db.session.flush()
    enqueue_after_commit(db.session, "worker.jobs.messages.deliver_email", email.id)
    return email


def build_message(email: Email, from_name: str = "") -> EmailMessage:
    message = EmailMessage()
    sender_name, sender_address = parseaddr(current_app.config["MAIL_FROM"])
    # The email's own From name (personalised when it was rendered) before the campaign's.
    message["From"] = formataddr((email.from_name or from_name or sender_name, sender_address))
    message["To"] = email.to_address
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain="footfall.localhost")
    for line in email.headers.splitlines():
        name, _, value = line.partition(": ")
        message[name] = value
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


def deliver(email_id: int, *, final_attempt: bool) -> Email | None:
    """Send one stored email; record the outcome. Raises on failure so the job is retried."""
    email = db.session.get(Email, email_id)
    if email is not None:
        deliver_many([email], final_attempt=final_attempt)
    return email


def deliver_many(emails: list[Email], *, final_attempt: bool, from_name: str = "") -> int:
    """Send stored emails over one connection, committing each outcome as it happens, so a retry
    never sends a message twice. On a failure the rest wait for the retry (or fail, on the last
    attempt) and the error is raised. Returns how many were delivered."""
    pending = [email for email in emails if email.status not in DELIVERED]
    if not pending:
        return 0
    transport = current_transport()
    delivered = 0
    for email in pending:  # this try counts as an attempt for each, even if the connection fails
        email.attempts += 1
        email.transport = transport.name
    external = transport.name == "smtp"
    notes = journal.keys(pending) if external else {}
    # Sent by an earlier try whose commit failed (the database went away): not sent again.
    sent_before = journal.handed_over(notes)
    session = db.session()
    # Each outcome is committed; expiring every loaded row on each commit would reload them all.
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        with transport.connection() as send:
            for email in pending:
                if email.id not in sent_before:
                    send(build_message(email, from_name))
                    if external:
                        journal.record_handed_over(notes[email.id])
                email.status = DeliveryStatus.SENT if transport.name == "smtp" else DeliveryStatus.OUTBOX
                email.error = ""
                email.delivered_at = utcnow()
                db.session.commit()
                delivered += 1
    except Exception as error:  # any transport failure is recorded, then retried by RQ
        if not session.is_active:  # the database failed, not the mail server
            session.rollback()
        # The one handed over just before the database failed is sent, not failed.
        sent_now = _handed_over_anyway({email.id: notes[email.id] for email in pending[delivered:]
                                        if email.id in notes})
        for email in pending[delivered:]:
            if email.id in sent_now:
                email.status, email.error, email.delivered_at = DeliveryStatus.SENT, "", utcnow()
                delivered += 1
                continue
            email.status = DeliveryStatus.FAILED if final_attempt else DeliveryStatus.RETRYING
            email.error = f"{type(error).__name__}: {error}"[:2000]
        failed = [FailedMessage("email", email.id, email.account_id, email.contact_id, email.campaign_id,
                                email.to_address, email.error)
                  for email in pending[delivered:]
                  if email.status == DeliveryStatus.FAILED and email.contact_id]
        if failed:
            messages_failed.send(messages=failed)  # (webhook deliveries, in this transaction)
        db.session.commit()
        undelivered = len(pending) - delivered
        count_deliveries("email", sent=delivered, failed_attempts=undelivered,
                         failed=undelivered if final_attempt else 0)
        raise
    finally:
        session.expire_on_commit = expire_on_commit
    count_deliveries("email", sent=delivered)
    return delivered


def _handed_over_anyway(notes: dict[int, str]) -> dict[int, str]:
    try:
        return journal.handed_over(notes)
    except RedisError:
        return {}


# Emails no one but their recipient may read: a password reset link in the Outbox would let
# anyone signed in to the account (a stolen session) set the password.
PRIVATE_KINDS = ("password_reset",)


def emails_for_account(account_id: int, *, kind: str | None = None, limit: int = 50) -> list[Email]:
    query = select(Email).where(Email.account_id == account_id, Email.kind.not_in(PRIVATE_KINDS))
    if kind:
        query = query.where(Email.kind == kind)
    return list(db.session.scalars(query.order_by(Email.id.desc()).limit(limit)))


def get_email(account_id: int, email_id: int) -> Email | None:
    return db.session.scalar(select(Email).where(Email.id == email_id, Email.account_id == account_id,
                                                 Email.kind.not_in(PRIVATE_KINDS)))
