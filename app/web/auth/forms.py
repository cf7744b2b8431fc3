"""The forms of registration, sign-in, password reset and the account page."""
from wtforms import EmailField, PasswordField, StringField

from app.web.forms import Form


class RegisterForm(Form):
    account_name = StringField("Business name")
    email = EmailField("Email")
    password = PasswordField("Password")


class LoginForm(Form):
    email = EmailField("Email")
    password = PasswordField("Password")


class ForgotPasswordForm(Form):
    email = EmailField("Email")


class ResetPasswordForm(Form):
    password = PasswordField("New password")
    confirmation = PasswordField("New password again")


class ChangePasswordForm(Form):
    current_password = PasswordField("Current password")
    password = PasswordField("New password")
    confirmation = PasswordField("New password again")
