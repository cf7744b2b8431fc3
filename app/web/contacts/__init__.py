"""Contacts: the list (search, filters, paging, add), a contact's page (details, lists, tags,
messages, website visits, data export and erasure), the lists page and CSV imports."""
import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import privacy
from app.contacts import fields, history, imports, people
from app.contacts import lists as lists_and_tags  # the lists page is the view lists()
from app.contacts.errors import ContactError
from app.extensions import db, htmx
from app.models.contacts import ImportStatus, Subscription
from app.tracking import identity, reports
from app.web import page_or_fragment, record_id, require_login
from app.web.contacts.forms import ContactEditForm, ContactForm, ImportForm, ListForm

bp = Blueprint("contacts", __name__, url_prefix="/contacts")
# Paging stops here: further pages would only be reached by editing the address.
MAX_PAGE = 1_000_000

PHONE_HELP = ("International format, such as +14155550123. "
              "A number without a country code is taken as US or Canada (+1).")


require_login(bp)
bp.add_app_template_filter(identity.describe, "describe_identity_change")
# {{ field | contact_field_value(contact[, 'form']) }}: a contact's value of a field, shown or in an input.
bp.add_app_template_filter(fields.shown, "contact_field_value")


def _contact_or_404(contact_id: int):
    return people.get_contact(current_user.account_id, contact_id) or abort(404)


def _list_or_404(list_id: int):
    return lists_and_tags.get_list(current_user.account_id, list_id) or abort(404)


# The contacts list ------------------------------------------------------------------------------

def _list_context(form=None) -> dict:
    query = request.args.get("q", "")
    page = min(request.args.get("page", 1, type=record_id) or 1, MAX_PAGE)
    list_id = request.args.get("list", type=record_id)
    tag_id = request.args.get("tag", type=record_id)
    rows, total = people.search(current_user.account_id, query, page, list_id=list_id, tag_id=tag_id)
    return dict(contacts=rows, total=total, q=query, page=page, page_size=people.PAGE_SIZE,
                list_id=list_id, tag_id=tag_id,
                account_lists=lists_and_tags.account_lists(current_user.account_id),
                account_tags=lists_and_tags.account_tags(current_user.account_id),
                form=form or ContactForm(formdata=None), phone_help=PHONE_HELP)


@bp.get("/")
def index():
    """Renders the contacts list; for htmx (search as you type, filters) only the results."""
    return page_or_fragment("contacts/index.html", "contacts/_results.html", **_list_context())


@bp.post("/")
def create():
    """Adds a contact; renders the list again with the form's errors when it cannot."""
    form = ContactForm()
    try:
        contact = people.add_contact(current_user.account_id, form.email.data, form.first_name.data,
                                     form.last_name.data, form.phone.data)
    except ContactError as error:
        form[error.field].errors = [str(error)]
        return render_template("contacts/index.html", **_list_context(form)), 422
    db.session.commit()
    return redirect(url_for("contacts.show", contact_id=contact.id))


# A contact's page -------------------------------------------------------------------------------

def _part_context(contact, **extra) -> dict:
    account_id = current_user.account_id
    context = dict(contact=contact, account_lists=lists_and_tags.account_lists(account_id),
                   account_tags=lists_and_tags.account_tags(account_id), form=None, phone_help=PHONE_HELP,
                   contact_fields=people.editable_fields(account_id), field_errors={}, field_values=None,
                   date_help=fields.DATE_HELP)
    context.update(extra)
    return context


def _show_context(contact, **extra) -> dict:
    return _part_context(contact, timeline=reports.timeline(current_user.account_id, contact.id),
                         history=history.message_history(current_user.account_id, contact.id),
                         **_browsers_context(contact), **extra)


def _browsers_context(contact) -> dict:
    browsers, forwarded = identity.contact_browsers(current_user.account_id, contact.id)
    return dict(browsers=browsers, forwarded=forwarded,
                browsers_limit=current_user.account.browsers_per_contact,
                identified_by=reports.identified_by(current_user.account_id, browsers + forwarded))


def _contact_part(contact, fragment: str, status_code: int = 200, **extra):
    """The part of the contact's page that changed, keyboard focus back in it; without htmx the
    whole page (docs/architecture.md, convention 5)."""
    if htmx:
        return render_template(fragment, **_part_context(contact, refocus=True, **extra)), status_code
    return render_template("contacts/show.html", **_show_context(contact, **extra)), status_code


def _edit_form(contact) -> ContactEditForm:
    return ContactEditForm(formdata=None, email=contact.email, first_name=contact.first_name,
                           last_name=contact.last_name, phone=contact.phone,
                           email_subscribed=contact.email_status == Subscription.SUBSCRIBED,
                           sms_subscribed=contact.sms_status == Subscription.SUBSCRIBED)


@bp.get("/<int:contact_id>")
def show(contact_id: int):
    """Renders a contact: details, lists, tags, messages and page-view timeline."""
    return render_template("contacts/show.html", **_show_context(_contact_or_404(contact_id)))


@bp.get("/<int:contact_id>/details")
def details(contact_id: int):
    """Renders the contact's details with their Edit button."""
    return _contact_part(_contact_or_404(contact_id), "contacts/_details.html")


@bp.get("/<int:contact_id>/edit")
def edit(contact_id: int):
    """Renders the inline form that edits the contact's details and subscriptions."""
    contact = _contact_or_404(contact_id)
    return _contact_part(contact, "contacts/_details_form.html", form=_edit_form(contact))


@bp.post("/<int:contact_id>")
def update(contact_id: int):
    """Saves the contact's details; renders them, or the form again with its errors."""
    contact = _contact_or_404(contact_id)
    form = ContactEditForm()
    # Only the fields the form had: one added since it was drawn keeps its values.
    typed = {field.key: request.form[f"field-{field.key}"]
             for field in people.editable_fields(current_user.account_id)
             if f"field-{field.key}" in request.form}
    try:
        people.update_contact(contact, email=form.email.data, first_name=form.first_name.data,
                              last_name=form.last_name.data, phone=form.phone.data,
                              email_subscribed=bool(form.email_subscribed.data),
                              sms_subscribed=bool(form.sms_subscribed.data), field_values=typed)
    except fields.FieldErrors as errors:  # checked before anything changed
        return _contact_part(contact, "contacts/_details_form.html", 422, form=form,
                             field_errors=errors.errors, field_values=typed)
    except ContactError as error:
        form[error.field].errors = [str(error)]
        return _contact_part(contact, "contacts/_details_form.html", 422, form=form, field_values=typed)
    db.session.commit()
    if not htmx:
        return redirect(url_for("contacts.show", contact_id=contact.id))
    return _contact_part(contact, "contacts/_details.html", saved=True)


@bp.post("/<int:contact_id>/browsers/<int:browser_id>/forget")
def forget_browser(contact_id: int, browser_id: int):
    """Makes one of the contact's browsers anonymous; renders their browsers."""
    contact = _contact_or_404(contact_id)
    if not identity.forget_browser(current_user.account_id, contact.id, browser_id):
        abort(404)
    db.session.commit()
    if not htmx:
        flash("The browser is anonymous now. A new click on one of their links identifies it again.",
              "success")
        return redirect(url_for("contacts.show", contact_id=contact.id))
    return render_template("contacts/_browsers.html", forgot=True,
                           **_part_context(contact, **_browsers_context(contact)))


@bp.get("/<int:contact_id>/export.json")
def export(contact_id: int):
    """Sends everything stored about the contact as a JSON file to download."""
    data = privacy.export_contact(current_user.account_id, contact_id) or abort(404)
    response = current_app.response_class(json.dumps(data, indent=2, ensure_ascii=False),
                                          mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="contact-{contact_id}.json"'
    response.headers["Cache-Control"] = "no-store"  # personal data: no copies in caches
    return response


@bp.post("/<int:contact_id>/delete")
def delete(contact_id: int):
    """Erases the contact and all their data; redirects to the contacts list with a confirmation."""
    contact = _contact_or_404(contact_id)
    email = contact.email
    people.delete_contact(contact, deleted_by_user_id=current_user.id)
    db.session.commit()
    flash(f"Contact {email} deleted. Everything stored about them was erased.", "success")
    return redirect(url_for("contacts.index"))


def _memberships(contact, fragment: str, error_key: str, error: ContactError | None = None):
    if error is None and not htmx:
        return redirect(url_for("contacts.show", contact_id=contact.id))
    return _contact_part(contact, fragment, 422 if error else 200,
                         **{error_key: str(error) if error else None})


@bp.post("/<int:contact_id>/lists")
def add_list(contact_id: int):
    """Adds the contact to a list (an existing one, or a new one by name); renders their lists."""
    contact = _contact_or_404(contact_id)
    try:
        lists_and_tags.add_to_list(contact, list_id=request.form.get("list_id", type=record_id),
                                   new_name=request.form.get("new_list", ""))
    except ContactError as error:
        return _memberships(contact, "contacts/_lists.html", "list_error", error)
    db.session.commit()
    return _memberships(contact, "contacts/_lists.html", "list_error")


@bp.post("/<int:contact_id>/lists/<int:list_id>/remove")
def remove_list(contact_id: int, list_id: int):
    """Removes the contact from a list; renders their lists."""
    contact = _contact_or_404(contact_id)
    lists_and_tags.remove_from_list(contact, list_id)
    db.session.commit()
    return _memberships(contact, "contacts/_lists.html", "list_error")


@bp.post("/<int:contact_id>/tags")
def add_tag(contact_id: int):
    """Tags the contact (creating the tag if new); renders their tags."""
    contact = _contact_or_404(contact_id)
    try:
        lists_and_tags.add_tag(contact, request.form.get("tag", ""))
    except ContactError as error:
        return _memberships(contact, "contacts/_tags.html", "tag_error", error)
    db.session.commit()
    return _memberships(contact, "contacts/_tags.html", "tag_error")


@bp.post("/<int:contact_id>/tags/<int:tag_id>/remove")
def remove_tag(contact_id: int, tag_id: int):
    """Removes a tag from the contact; renders their tags."""
    contact = _contact_or_404(contact_id)
    lists_and_tags.remove_tag(contact, tag_id)
    db.session.commit()
    return _memberships(contact, "contacts/_tags.html", "tag_error")


# Lists ------------------------------------------------------------------------------------------

@bp.get("/lists")
def lists():
    """Renders the account's lists with their member counts and the form that creates one."""
    return render_template("contacts/lists.html",
                           lists=lists_and_tags.lists_with_counts(current_user.account_id),
                           form=ListForm(formdata=None))


@bp.post("/lists")
def create_list():
    """Creates a list; redirects to the lists page, or renders it again with the form's errors."""
    form = ListForm()
    try:
        contact_list = lists_and_tags.create_list(current_user.account_id, form.name.data)
    except ContactError as error:
        form.name.errors = [str(error)]
        return render_template("contacts/lists.html",
                               lists=lists_and_tags.lists_with_counts(current_user.account_id),
                               form=form), 422
    db.session.commit()
    flash(f"List {contact_list.name} created.", "success")
    return redirect(url_for("contacts.lists"))


@bp.get("/lists/<int:list_id>/row")
def list_row(list_id: int):
    """Renders one row of the lists table."""
    contact_list = _list_or_404(list_id)
    return render_template("contacts/_list_row.html", contact_list=contact_list,
                           members=lists_and_tags.member_count(contact_list), refocus=True)


@bp.get("/lists/<int:list_id>/edit")
def edit_list(list_id: int):
    """Renders the row's inline form that renames the list."""
    contact_list = _list_or_404(list_id)
    return render_template("contacts/_list_form.html", contact_list=contact_list,
                           form=ListForm(formdata=None, name=contact_list.name))


@bp.post("/lists/<int:list_id>")
def rename_list(list_id: int):
    """Renames the list; renders its row, or the inline form again with its error."""
    contact_list = _list_or_404(list_id)
    form = ListForm()
    try:
        lists_and_tags.rename_list(contact_list, form.name.data)
    except ContactError as error:
        form.name.errors = [str(error)]
        return render_template("contacts/_list_form.html", contact_list=contact_list, form=form), 422
    db.session.commit()
    if not htmx:
        flash(f"List renamed to {contact_list.name}.", "success")
        return redirect(url_for("contacts.lists"))
    return render_template("contacts/_list_row.html", contact_list=contact_list,
                           members=lists_and_tags.member_count(contact_list), saved=True, refocus=True)


@bp.post("/lists/<int:list_id>/delete")
def delete_list(list_id: int):
    """Deletes the list (its contacts stay); redirects to the lists page with a confirmation."""
    contact_list = _list_or_404(list_id)
    name = contact_list.name
    lists_and_tags.delete_list(contact_list)
    db.session.commit()
    flash(f"List {name} deleted. Its contacts were kept.", "success")
    return redirect(url_for("contacts.lists"))


# CSV import -------------------------------------------------------------------------------------

def _import_page(form, status_code: int = 200):
    return render_template("contacts/import.html", form=form,
                           imports=imports.recent_imports(current_user.account_id)), status_code


@bp.get("/import")
def import_form():
    """Renders the CSV upload form and the account's recent imports."""
    return _import_page(ImportForm(formdata=None))


@bp.post("/import")
def start_import():
    """Stores the uploaded CSV and queues its import; redirects to its status, or renders the form's error."""
    form = ImportForm()
    upload = form.file.data
    try:
        if not upload:
            raise ContactError("Choose a CSV file to import.", "file")
        contact_import = imports.upload(current_user.account_id, current_user.id, upload.filename,
                                        upload.stream)
    except ContactError as error:
        form.file.errors = [str(error)]
        return _import_page(form, 422)
    db.session.commit()
    return redirect(url_for("contacts.import_columns", import_id=contact_import.id))


def _import_or_404(import_id: int):
    return imports.get_import(current_user.account_id, import_id) or abort(404)


def _columns_page(contact_import, error: str | None = None, chosen: dict[int, str] | None = None,
                  status_code: int = 200):
    columns, sample = imports.columns(contact_import)
    for column in columns:
        column.target = (chosen or {}).get(column.position, column.target)
    return render_template("contacts/import_columns.html", contact_import=contact_import, columns=columns,
                           sample=sample, targets=imports.targets(current_user.account_id),
                           error=error), status_code


@bp.get("/import/<int:import_id>/columns")
def import_columns(import_id: int):
    """Renders the uploaded file's columns, each matched to a field (changeable), and its first rows."""
    contact_import = _import_or_404(import_id)
    if contact_import.status != ImportStatus.MAPPING:
        return redirect(url_for("contacts.import_status", import_id=import_id))
    return _columns_page(contact_import)


@bp.post("/import/<int:import_id>/columns")
def confirm_import(import_id: int):
    """Starts the import with the columns matched as chosen (creating the new fields); redirects to
    its status, or renders the columns again with what is wrong."""
    contact_import = _import_or_404(import_id)
    if contact_import.status != ImportStatus.MAPPING:
        return redirect(url_for("contacts.import_status", import_id=import_id))
    chosen = {}
    for key in request.form:
        position = key.removeprefix("column-")
        if key.startswith("column-") and position.isdigit() and len(position) < 6:
            chosen[int(position)] = request.form.get(key, "")
    try:
        imports.confirm(contact_import, chosen)
    except ContactError as error:
        db.session.rollback()
        return _columns_page(_import_or_404(import_id), str(error), chosen, 422)
    db.session.commit()
    return redirect(url_for("contacts.import_status", import_id=import_id))


@bp.get("/import/<int:import_id>")
def import_status(import_id: int):
    """Renders an import's status and progress (polled until it ends) and then its report."""
    contact_import = imports.get_import(current_user.account_id, import_id) or abort(404)
    return page_or_fragment("contacts/import_status.html", "contacts/_import_status.html",
                            contact_import=contact_import, summary=imports.import_summary(contact_import),
                            progress=imports.import_progress(contact_import),
                            report=imports.import_report(contact_import))
