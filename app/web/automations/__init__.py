"""Automations: the list, and the page with the settings, the path builder, activation and the report."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.contacts import fields, people
from app.automations import engine, schema, service, templates
from app.automations.schema import AutomationError
from app.extensions import db, htmx
from app.messaging import personalise
from app.segments import rules
from app.web import page_or_fragment, redirect_to, require_login
from app.web.automations import forms

bp = Blueprint("automations", __name__, url_prefix="/automations")


require_login(bp)
# {{ automation.trigger | describe_trigger(known) }}, {{ rule | describe_condition(known[, steps]) }},
# {{ rule | describe_exit(known) }}: the words for the trigger, a filter or condition, an auto-stop rule.
bp.add_app_template_filter(service.describe_trigger, "describe_trigger")
bp.add_app_template_filter(service.describe_condition, "describe_condition")
bp.add_app_template_filter(service.describe_exit, "describe_exit")

# What the forms offer to choose from, by the names the templates use.
CHOICES = dict(step_kinds=schema.STEP_KINDS, delay_units=schema.DELAY_UNITS,
               trigger_types=schema.TRIGGER_TYPES, reentry_choices=schema.REENTRY, url_ops=rules.URL_OPS,
               field_ops=rules.OPS_BY_TYPE, filter_types=forms.FILTER_TYPES,
               condition_types=forms.CONDITION_TYPES, goal_types=forms.GOAL_TYPES,
               exit_types=forms.EXIT_TYPES, field_actions=schema.FIELD_ACTIONS,
               property_ops=rules.PROPERTY_OPS)


def _automation_or_404(automation_id: int):
    return service.get_automation(current_user.account_id, automation_id) or abort(404)


def _context(automation, **extra) -> dict:
    """What the automation's page and its fragments are drawn from; `summaries` holds each step's
    words ("Wait 1 day"), `earlier_emails` the emails before the step being edited."""
    steps, known = automation.steps or [], service.names(automation.account_id)
    account_fields = fields.account_fields(automation.account_id)
    context = dict(automation=automation, known=known, editable=service.is_editable(automation),
                   report=engine.report(automation), numbers=service.step_numbers(steps),
                   steps_by_id=schema.steps_by_id(steps),
                   summaries={step["id"]: service.describe_step(step, known, steps)
                              for step in schema.walk(steps)},
                   settings=service.settings_of(automation), settings_error=None, saved=False, problems=[],
                   editing=None, draft=None, step_error=None, result=None, header_oob=False,
                   clear_problems=False, earlier_emails=[],
                   contact_fields=account_fields,
                   date_fields=[(field.key, field.name) for field in account_fields if field.type == "date"],
                   updatable_fields=[(field.key, field.name) for field in schema.updatable_fields(
                       {field.key: field for field in account_fields}).values()],
                   merge_fields=personalise.menu(automation.account_id), **CHOICES)
    context.update(extra)
    if context["editing"]:
        context["earlier_emails"] = service.emails_before(steps, context["editing"]) or []
    return context


def _path(automation, status_code: int = 200, **extra):
    return page_or_fragment("automations/show.html", "automations/_path.html", status_code,
                            **_context(automation, **extra))


def _path_change(automation, change):
    """Apply a change to the path, save it, and render the path (with the error, if any)."""
    try:
        change()
    except AutomationError as error:
        db.session.rollback()
        return _path(automation, 409 if error.field == "status" else 422, step_error=error)
    db.session.commit()
    return _path(automation, clear_problems=bool(htmx))


@bp.get("/")
def index():
    """Renders the list of automations with their status, trigger and entries."""
    return _index()


def _index(status_code: int = 200, error=None):
    account_id = current_user.account_id
    return render_template("automations/index.html", automations=service.list_automations(account_id),
                           entered=service.entered_counts(account_id), known=service.names(account_id),
                           templates=templates.TEMPLATES, create_error=error), status_code


@bp.post("/")
def create():
    """Creates a draft automation, empty or from a template, and opens it."""
    try:
        automation = service.create(current_user, request.form.get("template", ""))
    except AutomationError as error:
        return _index(422, error)
    db.session.commit()
    return redirect(url_for("automations.show", automation_id=automation.id))


@bp.get("/<int:automation_id>")
def show(automation_id: int):
    """Renders the automation: settings, path, activation and report."""
    return render_template("automations/show.html", **_context(_automation_or_404(automation_id)))


@bp.post("/<int:automation_id>/settings/form")
def settings_form(automation_id: int):
    """Renders the settings form as posted, after a form action (add or remove a row, change a type)."""
    automation = _automation_or_404(automation_id)
    settings = forms.apply_settings_action(forms.settings_from_form(request.form),
                                           request.form.get("action", ""))
    return render_template("automations/_settings.html", **_context(automation, settings=settings))


@bp.post("/<int:automation_id>/settings")
def save_settings(automation_id: int):
    """Saves the name, trigger, filters, re-entry and auto-stop rules; renders them with "Saved" or
    the error."""
    automation = _automation_or_404(automation_id)
    try:
        service.save_settings(automation, forms.settings_from_form(request.form))
    except AutomationError as error:
        db.session.rollback()
        return page_or_fragment("automations/show.html", "automations/_settings.html",
                                409 if error.field == "status" else 422,
                                **_context(automation, settings=forms.settings_from_form(request.form),
                                           settings_error=error))
    db.session.commit()
    return page_or_fragment("automations/show.html", "automations/_settings.html",
                            **_context(automation, saved=True, header_oob=bool(htmx)))


@bp.get("/<int:automation_id>/path")
def path(automation_id: int):
    """Renders the path (closing any step being edited)."""
    return _path(_automation_or_404(automation_id))


@bp.post("/<int:automation_id>/steps")
def add_step(automation_id: int):
    """Adds a step where the marketer asked; renders the path."""
    automation = _automation_or_404(automation_id)
    form = request.form
    return _path_change(automation, lambda: service.add_step(
        automation, form.get("kind", ""), after=form.get("after"), split=form.get("split"),
        branch=form.get("branch", "yes")))


@bp.get("/<int:automation_id>/steps/<step_id>/edit")
def edit_step(automation_id: int, step_id: str):
    """Renders a step's edit form, with the values chosen so far when its condition kind changes."""
    automation = _automation_or_404(automation_id)
    step = schema.steps_by_id(automation.steps).get(step_id) or abort(404)
    if not service.is_editable(automation):
        return _path(automation, 409)
    draft = forms.draft_step(step, request.args) if request.args else step
    return page_or_fragment("automations/show.html", "automations/_step_form.html",
                            **_context(automation, editing=step_id, draft=draft, step=draft))


@bp.post("/<int:automation_id>/steps/<step_id>")
def update_step(automation_id: int, step_id: str):
    """Saves a step's edit form; renders the path, with the form and its error if it cannot."""
    automation = _automation_or_404(automation_id)
    step = schema.steps_by_id(automation.steps).get(step_id) or abort(404)
    try:
        service.edit_step(automation, step_id, forms.step_fields(step, request.form))
    except AutomationError as error:
        db.session.rollback()
        return _path(automation, 409 if error.field == "status" else 422, editing=step_id,
                     draft=forms.draft_step(step, request.form), step_error=error)
    db.session.commit()
    return _path(automation, clear_problems=bool(htmx))


@bp.post("/<int:automation_id>/steps/<step_id>/delete")
def delete_step(automation_id: int, step_id: str):
    """Deletes a step (a split with its branches); renders the path."""
    automation = _automation_or_404(automation_id)
    return _path_change(automation, lambda: service.remove_step(automation, step_id))


@bp.post("/<int:automation_id>/activate")
def activate(automation_id: int):
    """Activates the automation, or renders what stops it."""
    automation = _automation_or_404(automation_id)
    problems = engine.activate(automation)
    if problems:
        db.session.rollback()
        return page_or_fragment("automations/show.html", "automations/_header.html", 422,
                                **_context(automation,
                                           problems=service.readable_problems(problems, automation.steps)))
    db.session.commit()
    flash("The automation is active.", "success")
    return redirect_to(url_for("automations.show", automation_id=automation.id))


@bp.post("/<int:automation_id>/pause")
def pause(automation_id: int):
    """Pauses the automation: nobody moves on until it is activated again."""
    automation = _automation_or_404(automation_id)
    engine.pause(automation)
    db.session.commit()
    flash("The automation is paused: you can edit it now.", "info")
    return redirect_to(url_for("automations.show", automation_id=automation.id))


def _contact_result(automation, mode: str):
    email = request.args.get("email", "").strip()
    contact = people.find_by_email(automation.account_id, email) if email else None
    if contact is None:
        result = {"mode": mode, "email": email, "contact": None}
        return page_or_fragment("automations/show.html", "automations/_contact_result.html", 422,
                                **_context(automation, result=result))
    if mode == "journey":
        result = {"mode": mode, "email": email, "contact": contact,
                  "run": engine.latest_run(automation, contact.id),
                  "items": engine.journey(automation, contact.id)}
    else:
        result = {"mode": mode, "email": email, "contact": contact,
                  "items": engine.simulate(automation, contact)}
    return page_or_fragment("automations/show.html", "automations/_contact_result.html",
                            **_context(automation, result=result))


@bp.get("/<int:automation_id>/journey")
def journey(automation_id: int):
    """Renders the steps a contact's latest run went through, with times and outcomes."""
    return _contact_result(_automation_or_404(automation_id), "journey")


@bp.get("/<int:automation_id>/simulate")
def simulate(automation_id: int):
    """Renders the path a contact would take now, without sending anything."""
    return _contact_result(_automation_or_404(automation_id), "simulate")
