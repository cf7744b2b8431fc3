"""The forms of the contacts pages: a contact, a list, a CSV upload."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, StringField, TelField

from app.web.forms import Form


class ContactForm(Form):
    email = EmailField("Email")
    first_name = StringField("First name")
    last_name = StringField("Last name")
    phone = TelField("Phone")


class ContactEditForm(ContactForm):
    email_subscribed = BooleanField("Subscribed to email")
    sms_subscribed = BooleanField("Subscribed to text messages (SMS)")


class ListForm(Form):
    name = StringField("List name")


class ImportForm(FlaskForm):
    file = FileField("CSV file")
