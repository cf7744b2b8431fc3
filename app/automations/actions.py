"""What the action steps of a path do to a contact, or tell someone about them: tags, lists,
a contact field, an email to the team, a webhook call. Each is called by the engine inside the
transaction that writes the step's record (AutomationStepRun), so the effect and the record commit
together or not at all; each returns the outcome the journey shows."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template
from sqlalchemy import exists, func, select

from app import webhooks
from app.automations import schema
from app.contacts import fields, lists
from app.contacts.errors import ContactError
from app.extensions import db
from app.messaging import mail
from app.models import Account, Automation, AutomationRun, AutomationStepRun, Contact, Email, PageView
from app.models.types import utcnow
from app.public_url import public_url
from app.signals import contact_fields_changed

RECENT_VIEWS_HOURS = 24


def tag(automation: Automation, run: AutomationRun, contact: Contact, step: dict, record_id: int) -> str:
    if step["action"] == "add":
        had = any(existing.name.lower() == step["tag"].lower() for existing in contact.tags)
        added = lists.add_tag(contact, step["tag"])  # (tag_added may start other automations)
        return f"already tagged {added.name}" if had else f"tagged {added.name}"
    found = lists.tag_named(contact.account_id, step["tag"])
    if found is None or found not in contact.tags:
        return f"was not tagged {step['tag']}"
    lists.remove_tag(contact, found.id)
    return f"tag {found.name} removed"


def list_membership(automation: Automation, run: AutomationRun, contact: Contact, step: dict,
                    record_id: int) -> str:
    contact_list = lists.get_list(contact.account_id, step.get("list_id") or 0)
    if contact_list is None:
        return "not done: the list was deleted"
    if step["action"] == "add":
        if contact_list in contact.lists:
            return f"already on the list {contact_list.name}"
        lists.add_to_list(contact, list_id=contact_list.id)  # (list_joined may start other automations)
        return f"added to the list {contact_list.name}"
    if contact_list not in contact.lists:
        return f"was not on the list {contact_list.name}"
    lists.remove_from_list(contact, contact_list.id)
    return f"removed from the list {contact_list.name}"


def field_update(automation: Automation, run: AutomationRun, contact: Contact, step: dict,
                 record_id: int) -> str:
    field = schema.updatable_fields(fields.fields_by_key(contact.account_id)).get(step["field"])
    if field is None:
        return "not done: the field was deleted"
    current = fields.value_of(contact, field)
    try:
        if step["action"] == "clear":
            value = None
        elif step["action"] == "add":
            if field.type != "number":
                return f"not done: {field.name} is no longer a number field"
            value = fields.parse_value(field, (current or 0) + fields.parse_value(field, step["value"]))
        else:
            value = fields.parse_value(field, step["value"])
    except fields.FieldError as error:  # the field changed since (a choice taken off its list)
        return f"not done: {field.name}: {error}"
    if not fields.apply_values(contact, {field.key: value}):
        return f"{field.name} was already {fields.display(field, value) or 'empty'}"
    db.session.flush()
    contact_fields_changed.send(contact.account_id, contact_ids=[contact.id])
    if value is None:
        return f"{field.name} cleared"
    return f"{field.name} set to {fields.display(field, value)}"


def recent_views(contact: Contact, hours: int = RECENT_VIEWS_HOURS,
                 limit: int = 10) -> list[tuple[str, int]]:
    """The contact's most viewed pages of the last hours: (path, views), most viewed first."""
    since = utcnow() - timedelta(hours=hours)
    return list(db.session.execute(
        select(PageView.path, func.count()).where(PageView.account_id == contact.account_id,
                                                  PageView.contact_id == contact.id,
                                                  PageView.received_at >= since)
        .group_by(PageView.path).order_by(func.count().desc(), PageView.path).limit(limit)).all())


def _notified_recently(automation: Automation, contact: Contact, step: dict) -> bool:
    since = utcnow() - timedelta(minutes=current_app.config["TEAM_NOTIFY_MINUTES"])
    return db.session.scalar(select(exists().where(
        AutomationStepRun.run_id == AutomationRun.id, AutomationRun.automation_id == automation.id,
        AutomationRun.contact_id == contact.id, AutomationStepRun.step_id == step["id"],
        AutomationStepRun.email_id.is_not(None), AutomationStepRun.executed_at >= since))) is True


def notify(automation: Automation, run: AutomationRun, contact: Contact, step: dict, record_id: int) -> str:
    """An email to each chosen address: who the contact is and what they viewed lately. At most one
    about the same contact from the same step every TEAM_NOTIFY_MINUTES."""
    if _notified_recently(automation, contact, step):
        minutes = current_app.config["TEAM_NOTIFY_MINUTES"]
        return f"not sent: the team heard about this contact less than {minutes} minutes ago"
    most = current_app.config["TEAM_NOTIFY_PER_HOUR"]
    sent = db.session.scalar(select(func.count()).select_from(Email).where(
        Email.account_id == automation.account_id, Email.kind == "team_notification",
        Email.created_at >= utcnow() - timedelta(hours=1)))
    if sent + len(step["to"]) > most:
        return f"not sent: the account's {most} team emails an hour are used up"
    views = recent_views(contact)
    who = contact.name or contact.email
    if views:
        path, count = views[0]
        subject = f"{who} viewed {path} {'once' if count == 1 else f'{count} times'} in the last day"
    else:
        subject = f"{who} is in “{automation.name}”"
    context = dict(contact=contact, who=who, views=views, automation=automation,
                   account=db.session.get(Account, automation.account_id),
                   contact_url=f"{public_url()}/contacts/{contact.id}", hours=RECENT_VIEWS_HOURS,
                   details=[(field.name, value) for field in fields.account_fields(contact.account_id)
                            if (value := fields.shown(field, contact))])
    text, html = (render_template(f"emails/team_notification.{kind}", **context) for kind in ("txt", "html"))
    subject = " ".join(subject.split())[:300]  # one line, whatever a page path or a name holds
    emails = [mail.queue_email(account_id=automation.account_id, kind="team_notification", to_address=address,
                               subject=subject, text_body=text, html_body=html)
              for address in step["to"]]
    for email in emails:
        email.contact_id = contact.id  # erased with the contact, whose details it holds
    db.session.get(AutomationStepRun, record_id).email_id = emails[0].id
    return f"team notified: {', '.join(step['to'])}"


def webhook_data(automation: Automation, run: AutomationRun, contact: Contact, step: dict) -> dict:
    """What a webhook call carries: the contact, the automation and its trigger, and the page view
    that started the run (if one did)."""
    view = db.session.get(PageView, run.page_view_id) if run.page_view_id else None
    account_fields = fields.account_fields(contact.account_id)
    built_in = {field.key: fields.value_of(contact, field) for field in account_fields if field.built_in}
    return {
        "contact": {"id": contact.id, **built_in,
                    "fields": fields.export_values(contact, account_fields),
                    "tags": sorted(tag.name for tag in contact.tags),
                    "lists": sorted(item.name for item in contact.lists)},
        "automation": {"id": automation.id, "name": automation.name, "step_id": step["id"], "run_id": run.id},
        "trigger": automation.trigger,
        "page_view": {"url": view.url, "path": view.path, "title": view.title,
                      "viewed_at": f"{view.received_at:%Y-%m-%dT%H:%M:%SZ}"} if view else None,
    }


def webhook(automation: Automation, run: AutomationRun, contact: Contact, step: dict, record_id: int) -> str:
    """A delivery stored with the step's record; the call itself is a job, tried again on failure,
    whose outcome replaces this one."""
    webhooks.queue_delivery(account_id=automation.account_id, url=step["url"], secret=step["secret"],
                            event_type="automation.step", data=webhook_data(automation, run, contact, step),
                            contact_id=contact.id, step_run_id=record_id)
    return "webhook queued"


ACTIONS = {"tag": tag, "list": list_membership, "field": field_update, "notify": notify, "webhook": webhook}


def execute(automation: Automation, run: AutomationRun, contact: Contact, step: dict, record_id: int) -> str:
    try:
        return ACTIONS[step["kind"]](automation, run, contact, step, record_id)
    except ContactError as error:  # a tag or list that cannot be made (the names rules)
        return f"not done: {error}"
