"""Registration, sign-in and sign-out."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField

from app import accounts
from app.extensions import db

bp = Blueprint("auth", __name__)


class RegisterForm(FlaskForm):
    account_name = StringField("Business name")
    email = EmailField("Email")
    password = PasswordField("Password")


class LoginForm(FlaskForm):
    email = EmailField("Email")
    password = PasswordField("Password")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.index")


def _too_many(template: str, form, refused: accounts.TooManyAttempts):
    """The form again with why it was refused: 429, and when to try again."""
    return render_template(template, form=form, error=str(refused)), 429, {"Retry-After": str(refused.retry_after)}


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Renders the sign-up form; creates an account and its first user."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            accounts.count_sign_up(request.remote_addr or "")
            user = accounts.register(form.email.data, form.password.data, form.account_name.data)
        except accounts.TooManyAttempts as refused:
            return _too_many("auth/register.html", form, refused)
        except accounts.AccountError as error:
            form[error.field].errors.append(str(error))
        else:
            db.session.commit()
            login_user(user)
            flash("Welcome to Footfall. Start by setting up website tracking.", "success")
            return redirect(url_for("settings.tracking"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Renders the sign-in form; signs the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except accounts.TooManyAttempts as refused:
            return _too_many("auth/login.html", form, refused)
        except accounts.AccountError as refused:
            error = str(refused)
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    """Signs out and renders the sign-in page."""
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
