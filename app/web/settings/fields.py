"""Settings → Contact fields: the account's own fields (add, rename, change choices or default,
delete), beside the built-in ones."""
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.contacts import fields
from app.extensions import db, htmx
from app.web import page_or_fragment
from app.web.settings import bp
from app.web.settings.forms import EditFieldForm, FieldForm


def _field_or_404(field_id: int):
    return fields.get_field(current_user.account_id, field_id) or abort(404)


def _page(form=None, status_code: int = 200, **extra):
    return render_template("settings/fields.html", form=form or FieldForm(formdata=None),
                           built_in=fields.BUILT_IN, custom=fields.custom_fields(current_user.account_id),
                           type_names=fields.TYPE_NAMES, **extra), status_code


def _edit_form(row) -> EditFieldForm:
    return EditFieldForm(formdata=None, name=row.name, choices="\n".join(row.choices or []),
                         default=row.default)


def _form_error(form, error: fields.FieldError) -> None:
    form[error.field if error.field in form else "name"].errors = [str(error)]


@bp.get("/fields")
def contact_fields():
    """Renders the built-in fields, the account's own and the form that adds one."""
    return _page()


@bp.post("/fields")
def create_field():
    """Adds a field; redirects to the list, or renders the page again with the form's errors."""
    form = FieldForm()
    try:
        row = fields.create_field(current_user.account_id, form.name.data, form.type.data or "",
                                  choices=form.choices.data, default=form.default.data, key=form.key.data)
    except fields.FieldError as error:
        _form_error(form, error)
        return _page(form, 422)
    db.session.commit()
    flash(f"Field {row.name} added: messages use it as {{{{ {row.key} }}}}.", "success")
    return redirect(url_for("settings.contact_fields"))


@bp.get("/fields/<int:field_id>")
def field_row(field_id: int):
    """Renders one row of the fields table."""
    return render_template("settings/_field_row.html", row=_field_or_404(field_id),
                           type_names=fields.TYPE_NAMES, refocus=True)


@bp.get("/fields/<int:field_id>/edit")
def edit_field(field_id: int):
    """Renders the row's inline form that changes the field."""
    row = _field_or_404(field_id)
    return page_or_fragment("settings/field_edit.html", "settings/_field_form.html", row=row,
                            form=_edit_form(row), type_names=fields.TYPE_NAMES)


@bp.post("/fields/<int:field_id>")
def update_field(field_id: int):
    """Saves the field's name, choices and default; renders its row, or the form with its errors."""
    row = _field_or_404(field_id)
    form = EditFieldForm()
    try:
        fields.update_field(row, name=form.name.data, choices=form.choices.data, default=form.default.data)
    except fields.FieldError as error:
        db.session.rollback()
        _form_error(form, error)
        return page_or_fragment("settings/field_edit.html", "settings/_field_form.html", 422, row=row,
                                form=form, type_names=fields.TYPE_NAMES)
    db.session.commit()
    if not htmx:
        flash(f"Field {row.name} saved.", "success")
        return redirect(url_for("settings.contact_fields"))
    return render_template("settings/_field_row.html", row=row, type_names=fields.TYPE_NAMES, saved=True,
                           refocus=True)


@bp.post("/fields/<int:field_id>/delete")
def delete_field(field_id: int):
    """Deletes the field and its values; redirects to the list with a confirmation, or the reason
    it cannot be deleted (a segment or automation compares it)."""
    row = _field_or_404(field_id)
    name = row.name
    try:
        fields.delete_field(row)
    except fields.FieldError as error:
        db.session.rollback()
        return _page(None, 409, delete_error=str(error), delete_error_id=field_id)
    db.session.commit()
    flash(f"Field {name} deleted, with its values on every contact.", "success")
    return redirect(url_for("settings.contact_fields"))
