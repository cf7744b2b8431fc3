"""Settings → API: the account's API keys (app/api_keys.py) for the REST API (app/api/)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import api_keys
from app.extensions import db
from app.web.settings import bp
from app.web.settings.forms import ApiKeyForm


def _page(form: ApiKeyForm, status_code: int = 200, **extra):
    return render_template(
        "settings/api.html", form=form, keys=api_keys.account_keys(current_user.account_id), **extra
    ), status_code


@bp.get("/api")
def api():
    """Renders the account's API keys and the form to create one."""
    return _page(ApiKeyForm(formdata=None))


@bp.post("/api")
def create_api_key():
    """Creates a key and shows its secret, this once; the form again with the error, if any."""
    form = ApiKeyForm(request.form)
    if not form.validate():
        return _page(form, 400)
    try:
        key, secret = api_keys.create_key(
            current_user.account_id,
            form.name.data or "",
            form.scope.data or "",
            created_by_id=current_user.id,
        )
    except api_keys.ApiKeyError as error:
        db.session.rollback()
        form[error.field].errors = [str(error)]
        return _page(form, 422)
    db.session.commit()
    # Rendered, not redirected to: the secret must not travel in a URL or sit in the session.
    response = _page(ApiKeyForm(formdata=None), created=key, secret=secret)[0]
    return response, 201, {"Cache-Control": "no-store"}


@bp.post("/api/<int:key_id>/revoke")
def revoke_api_key(key_id: int):
    """Revokes a key: the next request with it is refused."""
    key = api_keys.get_key(current_user.account_id, key_id)
    if key is None:
        abort(404)
    api_keys.revoke(key)
    db.session.commit()
    flash(f"Revoked the key {key.name}. Programs using it are refused from now on.", "success")
    return redirect(url_for("settings.api"))
