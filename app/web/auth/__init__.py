"""Registration, sign-in and sign-out, password reset, and the account page."""
import unicodedata
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import accounts, sessions
from app.extensions import db
from app.web.auth.forms import (ChangePasswordForm, ForgotPasswordForm, LoginForm,
                                RegisterForm, ResetPasswordForm)

bp = Blueprint("auth", __name__)


def _client_address() -> str:
    return request.remote_addr or ""


def _safe_next(target: str | None) -> str:
    """`next` if it is a path on this site, else the dashboard. Parsed, not pattern-matched: no
    scheme or host, one leading slash, no backslash, and no control character or whitespace
    anywhere (browsers drop tabs and newlines, so "/\\t/evil.example" would be "//evil.example")."""
    if not target or any(char.isspace() or unicodedata.category(char).startswith("C") for char in target):
        return url_for("dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return url_for("dashboard.index")
    return target


def _too_many(template: str, refused: accounts.TooManyAttempts, **context):
    """The form again with why it was refused: 429, and when to try again."""
    return (render_template(template, error=str(refused), **context), 429,
            {"Retry-After": str(refused.retry_after)})


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Renders the sign-up form (or that sign-up is closed); creates an account and its first user."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    if not accounts.may_sign_up():
        return render_template("auth/registration_closed.html"), 403 if request.method == "POST" else 200
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            accounts.count_sign_up(_client_address())
            user = accounts.register(form.email.data, form.password.data, form.account_name.data)
            accounts.claim_sign_up()
        except accounts.SignUpClosed:
            db.session.rollback()
            return render_template("auth/registration_closed.html"), 403
        except accounts.TooManyAttempts as refused:
            return _too_many("auth/register.html", refused, form=form,
                             min_length=accounts.MIN_PASSWORD_LENGTH)
        except accounts.AccountError as error:
            form[error.field].errors.append(str(error))
        else:
            sessions.sign_in(user)
            db.session.commit()
            flash("Welcome to Footfall. Start by setting up website tracking.", "success")
            return redirect(url_for("settings.tracking"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form, min_length=accounts.MIN_PASSWORD_LENGTH), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Renders the sign-in form; signs the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data, _client_address())
        except accounts.TooManyAttempts as refused:
            return _too_many("auth/login.html", refused, form=form, sign_up_open=accounts.may_sign_up())
        except accounts.AccountError as refused:
            error = str(refused)
        else:
            sessions.sign_in(user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error,
                           sign_up_open=accounts.may_sign_up()), status


@bp.post("/logout")
@login_required
def logout():
    """Signs out (this browser's session ends) and renders the sign-in page."""
    sessions.sign_out()
    db.session.commit()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    """Renders the reset request form; emails a reset link, answering the same for any address."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.request_password_reset(form.email.data, _client_address())
        except accounts.TooManyAttempts as refused:
            return _too_many("auth/forgot_password.html", refused, form=form)
        except accounts.AccountError as error:
            form.email.errors.append(str(error))
        else:
            db.session.commit()
            return render_template("auth/forgot_password.html", form=form, sent=True,
                                   hours=accounts.RESET_LINK_SECONDS // 3600)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():
    """Renders the new-password form of a reset link; sets the password and signs in afresh."""
    token = request.args.get("token", "")
    form = ResetPasswordForm()
    context = dict(form=form, token=token, min_length=accounts.MIN_PASSWORD_LENGTH)
    try:
        if not form.validate_on_submit():
            accounts.user_for_reset(token)
            return render_template("auth/reset_password.html", **context)
        user = accounts.reset_password(token, form.password.data, form.confirmation.data)
    except accounts.InvalidResetLink as error:
        return render_template("auth/reset_password.html", invalid=str(error)), 400
    except accounts.AccountError as error:
        form[error.field].errors.append(str(error))
        return render_template("auth/reset_password.html", **context), 422
    sessions.sign_in(user)
    db.session.commit()
    flash("Your password is changed and every session signed in with the old one has ended. "
          "You are signed in.", "success")
    return redirect(url_for("dashboard.index"))


def _account_page(form: ChangePasswordForm, status: int = 200, headers=None, **extra):
    return render_template("auth/account.html", form=form, sessions=sessions.live_sessions(current_user),
                           this_browser=sessions.this_browser_hash(), min_length=accounts.MIN_PASSWORD_LENGTH,
                           **extra), status, headers or {}


@bp.get("/account")
@login_required
def account():
    """Renders the account page: its sessions, the password change form and "Sign out everywhere"."""
    return _account_page(ChangePasswordForm(formdata=None))


@bp.post("/account/password")
@login_required
def change_password():
    """Changes the password, ending every other session; renders the account page with the outcome."""
    form = ChangePasswordForm()
    try:
        ended = accounts.change_password(current_user, form.current_password.data, form.password.data,
                                         form.confirmation.data, _client_address())
    except accounts.TooManyAttempts as refused:
        return _account_page(form, 429, {"Retry-After": str(refused.retry_after)}, error=str(refused))
    except accounts.AccountError as error:
        form[error.field].errors = [str(error)]
        return _account_page(form, 422)
    db.session.commit()
    others = "No other session was signed in." if not ended else \
        f"{ended} other session{'s' if ended != 1 else ''} signed out."
    flash(f"Your password is changed. {others}", "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """Ends every session of the user, this one too, and renders the sign-in page."""
    sessions.sign_out_everywhere(current_user)
    db.session.commit()
    flash("You are signed out everywhere, on this browser too.", "info")
    return redirect(url_for("auth.login"))
