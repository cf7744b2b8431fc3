"""Contacts: the list (search, paging, add) and a contact's page with their website visits."""
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField

from app import contacts
from app.extensions import db
from app.tracking import reports
from app.web import page_or_fragment

bp = Blueprint("contacts", __name__, url_prefix="/contacts")


class ContactForm(FlaskForm):
    email = EmailField("Email")
    first_name = StringField("First name")
    last_name = StringField("Last name")


@bp.before_request
@login_required
def _signed_in():
    """Every contacts page needs a signed-in user."""


def _list_context(form=None) -> dict:
    query = request.args.get("q", "")
    page = request.args.get("page", 1, type=int) or 1
    rows, total = contacts.search(current_user.account_id, query, page)
    return dict(contacts=rows, total=total, q=query, page=page, page_size=contacts.PAGE_SIZE,
                form=form or ContactForm(formdata=None))


@bp.get("/")
def index():
    """Renders the contacts list; for htmx (search as you type) only the results."""
    return page_or_fragment("contacts/index.html", "contacts/_results.html", **_list_context())


@bp.post("/")
def create():
    """Adds a contact; renders the list again with the form's errors when it cannot."""
    form = ContactForm()
    try:
        contact = contacts.add_contact(current_user.account_id, form.email.data, form.first_name.data,
                                       form.last_name.data)
    except contacts.ContactError as error:
        form[error.field].errors = [str(error)]
        return render_template("contacts/index.html", **_list_context(form)), 422
    db.session.commit()
    return redirect(url_for("contacts.show", contact_id=contact.id))


@bp.get("/<int:contact_id>")
def show(contact_id: int):
    """Renders a contact: details and page-view timeline."""
    contact = contacts.get_contact(current_user.account_id, contact_id) or abort(404)
    return render_template("contacts/show.html", contact=contact,
                           page_views=reports.timeline(current_user.account_id, contact.id))
