"""Settings → Webhooks: the account's webhook subscriptions (app/subscriptions.py), each with its
delivery log and "send again"."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import subscriptions
from app.extensions import db
from app.web.settings import bp
from app.web.settings.forms import WebhookForm


def _subscription_or_404(subscription_id: int):
    subscription = subscriptions.get_subscription(current_user.account_id, subscription_id)
    if subscription is None:
        abort(404)
    return subscription


def _page(form: WebhookForm, status_code: int = 200, chosen=(), **extra):
    return render_template(
        "settings/webhooks.html",
        form=form,
        event_types=subscriptions.EVENT_TYPES,
        chosen=set(chosen),
        subscriptions=subscriptions.account_subscriptions(current_user.account_id),
        **extra,
    ), status_code


@bp.get("/webhooks")
def webhooks():
    """Renders the account's webhooks and the form to add one."""
    return _page(WebhookForm(formdata=None))


@bp.post("/webhooks")
def create_webhook():
    """Adds a webhook and shows its signing secret, this once; the form again with the error, if any."""
    form = WebhookForm(request.form)
    chosen = request.form.getlist("events")
    if not form.validate():
        return _page(form, 400, chosen)
    try:
        subscription, secret = subscriptions.create(
            current_user.account_id,
            form.url.data or "",
            chosen,
            form.description.data or "",
            created_by_id=current_user.id,
        )
    except subscriptions.SubscriptionError as error:
        db.session.rollback()
        return _page(form, 422, chosen, error=error)
    db.session.commit()
    response = _page(WebhookForm(formdata=None), created=subscription, secret=secret)[0]
    return response, 201, {"Cache-Control": "no-store"}


@bp.get("/webhooks/<int:subscription_id>")
def webhook(subscription_id: int):
    """Renders a webhook's settings and its delivery log."""
    subscription = _subscription_or_404(subscription_id)
    return render_template(
        "settings/webhook.html",
        subscription=subscription,
        event_types=subscriptions.EVENT_TYPES,
        deliveries=subscriptions.deliveries(subscription),
    )


@bp.post("/webhooks/<int:subscription_id>/pause")
def pause_webhook(subscription_id: int):
    """Pauses a webhook (no events are sent to it), or resumes it."""
    subscription = _subscription_or_404(subscription_id)
    if subscription.active:
        subscriptions.pause(subscription)
        message = "Paused: no events are sent to it until you resume it."
    else:
        subscriptions.resume(subscription)
        message = "Resumed: new events are sent to it. Send failed deliveries again from the log below."
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("settings.webhook", subscription_id=subscription.id))


@bp.post("/webhooks/<int:subscription_id>/delete")
def delete_webhook(subscription_id: int):
    """Deletes a webhook with its delivery log."""
    subscription = _subscription_or_404(subscription_id)
    url = subscription.url
    subscriptions.remove(subscription)
    db.session.commit()
    flash(f"Deleted the webhook to {url}.", "success")
    return redirect(url_for("settings.webhooks"))


@bp.post("/webhooks/<int:subscription_id>/deliveries/<int:delivery_id>/again")
def send_delivery_again(subscription_id: int, delivery_id: int):
    """Sends one delivery of the log again."""
    subscription = _subscription_or_404(subscription_id)
    delivery = subscriptions.get_delivery(subscription, delivery_id)
    if delivery is None:
        abort(404)
    subscriptions.send_again(delivery)
    db.session.commit()
    flash(f"Sending {delivery.event_type or 'the event'} {delivery.event_id} again.", "success")
    return redirect(url_for("settings.webhook", subscription_id=subscription.id))
