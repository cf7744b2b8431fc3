"""Webhook calls: a JSON document POSTed to a receiver's HTTPS address, signed, tried again with
backoff until the receiver accepts it (2xx) or the tries run out (WEBHOOK_RETRY_DELAYS, about a
day). The request goes through the install check's guarded fetch: its SSRF rules (no private,
loopback or link-local address, checked on the resolved addresses it connects to), one deadline,
no redirect followed.

Signature, as receivers check it (docs/automations.md has examples):
    Footfall-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>
Delivery is at least once: a worker killed after the receiver answered but before the answer was
stored tries again, with the same event id (Footfall-Event-Id, and "id" in the body), which
receivers de-duplicate on."""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import AutomationStepRun, WebhookDelivery
from app.models.types import utcnow
from app.models.webhooks import WebhookStatus
from app.queues import enqueue, enqueue_after_commit
from app.tracking import install_check

USER_AGENT = "Footfall-Webhook/1.0"
MAX_URL_LENGTH = 2000
# A try in progress holds the delivery this long past its timeout; a worker killed mid-try
# leaves it to the sweep after that.
LEASE_SECONDS = 60
MAX_ANSWER_BYTES = 64 * 1024


class WebhookError(ValueError):
    """An address a webhook cannot be sent to."""


class WebhookFailed(Exception):
    """A try that failed and will be made again (RQ retries the job)."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24)


def check_url(raw: str | None) -> str:
    """The receiver's address as stored, or WebhookError saying what is wrong with it: HTTPS (plain
    HTTP only where private addresses are allowed, in development), a host, no user name or password."""
    url = (raw or "").strip()
    if not url:
        raise WebhookError("Enter the address of the webhook receiver.")
    if len(url) > MAX_URL_LENGTH or any(character.isspace() for character in url):
        raise WebhookError("Enter one address, without spaces, under 2,000 characters.")
    try:
        parts = urlsplit(url)
    except ValueError:  # ("https://[::1": an unclosed IPv6 address)
        raise WebhookError("That is not a web address.") from None
    schemes = ("https", "http") if install_check.private_allowed(current_app.config) else ("https",)
    if parts.scheme.lower() not in schemes:
        raise WebhookError("The address must start with https://.")
    try:
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise WebhookError("The address has an invalid port number.") from None
    if not parts.hostname:
        raise WebhookError("The address has no host name.")
    if parts.username or parts.password:
        raise WebhookError("Leave the user name and password out of the address.")
    return url


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def queue_delivery(*, account_id: int, url: str, secret: str, event_type: str, data: dict,
                   contact_id: int | None = None, step_run_id: int | None = None) -> WebhookDelivery:
    """Store a delivery (in the caller's transaction) and have it tried once the caller commits."""
    event_id = "evt_" + secrets.token_hex(12)
    now = utcnow()
    payload = {"id": event_id, "type": event_type, "created_at": f"{now:%Y-%m-%dT%H:%M:%SZ}",
               "data": data}
    delivery = WebhookDelivery(account_id=account_id, event_id=event_id, url=url, secret=secret,
                               event_type=event_type,
                               payload=json.dumps(payload, separators=(",", ":"), default=str),
                               status=WebhookStatus.PENDING, next_attempt_at=now, created_at=now,
                               contact_id=contact_id, step_run_id=step_run_id)
    db.session.add(delivery)
    db.session.flush()
    enqueue_after_commit(db.session, "worker.jobs.webhooks.deliver_webhook", delivery.id)
    return delivery


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one try: pending and due (not held by a try in progress)."""
    lease = now + timedelta(seconds=current_app.config["WEBHOOK_TIMEOUT"] + LEASE_SECONDS)
    claimed = db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                      WebhookDelivery.status == WebhookStatus.PENDING,
                                      WebhookDelivery.next_attempt_at <= now + timedelta(seconds=5))
        .values(next_attempt_at=lease, attempts=WebhookDelivery.attempts + 1))
    db.session.commit()
    return claimed.rowcount == 1


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One try: the receiver's status code (None when it was not reached) and what went wrong."""
    body = delivery.payload.encode()
    timeout = current_app.config["WEBHOOK_TIMEOUT"]
    headers = {"Content-Type": "application/json", "Accept": "*/*", "User-Agent": USER_AGENT,
               "Footfall-Event-Id": delivery.event_id,
               "Footfall-Signature": signature(delivery.secret, int(time.time()), body)}
    try:
        answer = install_check.fetch(delivery.url, deadline=time.monotonic() + timeout,
                                     allow_private=install_check.private_allowed(current_app.config),
                                     max_bytes=MAX_ANSWER_BYTES, method="POST", body=body, headers=headers)
    except install_check.Unreachable as error:
        text = str(error)
        if text == install_check.PRIVATE_REFUSED:
            text = "Private and loopback addresses cannot be called."
        return None, text
    except TimeoutError:
        return None, f"The receiver did not answer within {timeout} seconds."
    except OSError as error:  # refused, reset, a certificate that does not verify, no such host
        return None, f"Could not connect: {str(error) or type(error).__name__}."
    except (http.client.HTTPException, ValueError) as error:  # a malformed answer
        return None, f"The answer could not be read: {type(error).__name__}."
    if 200 <= answer.status < 300:
        return answer.status, ""
    return answer.status, f"The receiver answered {answer.status} {answer.reason}".strip() + "."


def outcome(delivery: WebhookDelivery) -> str:
    """The delivery in words, as the journey shows it."""
    tries = f"{delivery.attempts} tr{'y' if delivery.attempts == 1 else 'ies'}"
    if delivery.status == WebhookStatus.DELIVERED:
        return f"webhook delivered ({delivery.response_status}) after {tries}"
    if delivery.status == WebhookStatus.FAILED:
        return f"webhook failed after {tries}: {delivery.error}"
    if delivery.attempts:
        return f"webhook trying again ({tries} so far): {delivery.error}"
    return "webhook queued"


def deliver(delivery_id: int, *, final_attempt: bool) -> WebhookDelivery | None:
    """Make one try of a pending delivery; raises WebhookFailed when it failed and will be tried
    again (by the job's retry, WEBHOOK_RETRY_DELAYS). A duplicate job, or one for a delivery a try
    holds, does nothing."""
    now = utcnow()
    if not _claim(delivery_id, now):
        return db.session.get(WebhookDelivery, delivery_id)
    delivery = db.session.get(WebhookDelivery, delivery_id)
    from app import subscriptions  # (it builds on this module)
    if subscriptions.is_paused(delivery):
        delivery.status, delivery.error = WebhookStatus.FAILED, "Not sent: the webhook is paused."
        db.session.commit()
        return delivery
    retries = current_app.config["WEBHOOK_RETRY_DELAYS"]
    # Tries begun and never finished (the worker died during each) stop at some point too.
    cut_short = delivery.attempts > len(retries) + 3
    status, error = (None, "Every try was cut short (the worker stopped during it).") if cut_short \
        else _post(delivery)
    delivery.response_status, delivery.error = status, error[:300]
    if not error:
        delivery.status, delivery.delivered_at = WebhookStatus.DELIVERED, utcnow()
    elif cut_short or final_attempt or delivery.attempts > len(retries):
        delivery.status = WebhookStatus.FAILED
    else:
        delivery.next_attempt_at = utcnow() + timedelta(seconds=retries[delivery.attempts - 1])
    if delivery.step_run_id is not None:
        db.session.execute(update(AutomationStepRun).where(AutomationStepRun.id == delivery.step_run_id)
                           .values(outcome=outcome(delivery)))
    if delivery.subscription_id is not None:
        subscriptions.after_try(delivery, now)
    db.session.commit()
    if delivery.status == WebhookStatus.PENDING:
        raise WebhookFailed(error)
    return delivery


def retry_stalled(now: datetime | None = None) -> list[int]:
    """The sweep: pending deliveries whose try is overdue by minutes (their job was lost with a
    worker or with Redis) are tried again."""
    now = now or utcnow()
    stalled = list(db.session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.status == WebhookStatus.PENDING,
        WebhookDelivery.next_attempt_at <= now - timedelta(minutes=5))))
    for delivery_id in stalled:
        enqueue("worker.jobs.webhooks.deliver_webhook", delivery_id)
    return stalled
