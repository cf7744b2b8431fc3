"""/api/v1/webhooks: the account's webhook subscriptions (app/subscriptions.py) and their
delivery logs."""

from __future__ import annotations

from sqlalchemy import select

from app import subscriptions
from app.api import TAGS, account_id, answer, bp, error_responses, no_content, page_of, replayed
from app.api.problems import ApiError
from app.api.schemas import (
    DeliveryOut,
    DeliveryPage,
    DeliveryPath,
    PageQuery,
    WebhookChanges,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookPath,
)
from app.extensions import db
from app.models import WebhookDelivery

WEBHOOKS = [TAGS["Webhooks"]]


def _out(subscription, model=WebhookOut, **extra):
    return model(
        id=subscription.id,
        url=subscription.url,
        description=subscription.description,
        events=list(subscription.events or ()),
        active=subscription.active,
        paused_reason=subscription.paused_reason,
        failing_since=subscription.failing_since,
        created_at=subscription.created_at,
        **extra,
    )


def _subscription(webhook_id: int):
    subscription = subscriptions.get_subscription(account_id(), webhook_id)
    if subscription is None:
        raise ApiError(404, f"This account has no webhook {webhook_id}.")
    return subscription


def _refused(error: subscriptions.SubscriptionError):
    db.session.rollback()
    return ApiError(422, str(error), error.field)


@bp.get("/webhooks", tags=WEBHOOKS, responses={200: WebhookList})
def list_webhooks():
    """The account's webhook subscriptions"""
    return answer(WebhookList(data=[_out(row) for row in subscriptions.account_subscriptions(account_id())]))


@bp.post("/webhooks", tags=WEBHOOKS, responses={201: WebhookCreated})
def create_webhook(body: WebhookIn):
    """Subscribe a receiver to events; the answer holds its signing secret, this once"""
    if (kept := replayed()) is not None:
        return kept
    try:
        subscription, secret = subscriptions.create(account_id(), body.url, body.events, body.description)
    except subscriptions.SubscriptionError as error:
        raise _refused(error) from None
    # (a replay of its Idempotency-Key shows no secret: it is shown once)
    return answer(_out(subscription, WebhookCreated, secret=secret), 201,
                  kept_as=_out(subscription, WebhookCreated, secret=""))


@bp.get("/webhooks/<id:webhook_id>", tags=WEBHOOKS, responses={200: WebhookOut, **error_responses(404)})
def get_webhook(path: WebhookPath):
    """Get a webhook subscription"""
    return answer(_out(_subscription(path.webhook_id)))


@bp.patch("/webhooks/<id:webhook_id>", tags=WEBHOOKS, responses={200: WebhookOut, **error_responses(404)})
def change_webhook(path: WebhookPath, body: WebhookChanges):
    """Change a webhook's address, events or description; pause or resume it"""
    subscription = _subscription(path.webhook_id)
    try:
        subscriptions.change(subscription, events=body.events, url=body.url, description=body.description)
    except subscriptions.SubscriptionError as error:
        raise _refused(error) from None
    if body.active is True and not subscription.active:
        subscriptions.resume(subscription)
    elif body.active is False and subscription.active:
        subscriptions.pause(subscription)
    return answer(_out(subscription))


@bp.delete("/webhooks/<id:webhook_id>", tags=WEBHOOKS, responses={204: None, **error_responses(404)})
def delete_webhook(path: WebhookPath):
    """Delete a webhook subscription and its delivery log"""
    subscriptions.remove(_subscription(path.webhook_id))
    return no_content()


def _delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        response_status=delivery.response_status,
        error=delivery.error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


@bp.get(
    "/webhooks/<id:webhook_id>/deliveries",
    tags=WEBHOOKS,
    responses={200: DeliveryPage, **error_responses(404)},
)
def webhook_deliveries(path: WebhookPath, query: PageQuery):
    """A webhook's deliveries, oldest first: status, answer and tries"""
    subscription = _subscription(path.webhook_id)
    statement = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
    rows, cursor = page_of(statement, WebhookDelivery.id, query.cursor, query.limit)
    return answer(DeliveryPage(data=[_delivery_out(row[0]) for row in rows], next_cursor=cursor))


@bp.post(
    "/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/again",
    tags=WEBHOOKS,
    responses={202: DeliveryOut, **error_responses(404)},
)
def send_again(path: DeliveryPath):
    """Send a delivery again (the same event id: receivers that have it ignore it)"""
    if (kept := replayed()) is not None:
        return kept
    delivery = subscriptions.get_delivery(_subscription(path.webhook_id), path.delivery_id)
    if delivery is None:
        raise ApiError(404, f"This webhook has no delivery {path.delivery_id}.")
    subscriptions.send_again(delivery)
    return answer(_delivery_out(delivery), 202)
