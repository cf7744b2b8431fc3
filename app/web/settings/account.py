"""Settings → Account: the account's name and time zone (which every page shows times in, and
schedules are read in)."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import accounts, timezones
from app.extensions import db
from app.models.types import utcnow
from app.web.settings import bp
from app.web.settings.forms import AccountForm


def _page(form: AccountForm, status_code: int = 200):
    form.time_zone.choices = [(zone, zone.replace("_", " ")) for zone in timezones.zones()]
    now_there = timezones.shown(utcnow(), current_user.account.time_zone)
    return render_template("settings/account.html", form=form, now_there=now_there), status_code


@bp.get("/account")
def account():
    """Renders the account's name and time zone."""
    account = current_user.account
    return _page(AccountForm(formdata=None, name=account.name, time_zone=account.time_zone))


@bp.post("/account")
def save_account():
    """Saves the name and time zone; renders the form again with the error, if any."""
    form = AccountForm(request.form)
    if not form.validate():
        return _page(form, 400)
    try:
        accounts.update_account(current_user.account, name=form.name.data or "",
                                time_zone=form.time_zone.data)
    except accounts.AccountError as error:
        db.session.rollback()
        form[error.field].errors = [str(error)]
        return _page(form, 422)
    db.session.commit()
    flash(f"Saved. Times are shown in {current_user.account.time_zone.replace('_', ' ')}.", "success")
    return redirect(url_for("settings.account"))
