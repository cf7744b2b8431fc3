"""The forms of Settings: Account, Website tracking, Contact fields."""
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, TextAreaField, URLField
from wtforms.fields.choices import SelectChoice

from app.contacts.fields import TYPE_NAMES
from app.web.forms import Form


class AccountForm(Form):
    name = StringField("Account name")
    time_zone = SelectField("Time zone", validate_choice=False)  # (checked by accounts.update_account)


class WebsiteForm(Form):
    website_url = URLField("Website URL")
    agree_terms = BooleanField("I agree to the website tracking terms")


class EditWebsiteForm(Form):
    website_url = URLField("Website URL")


class PrivacyForm(Form):
    respect_privacy_signals = BooleanField("Respect browser privacy signals "
                                           "(Global Privacy Control, Do Not Track)")
    retention_days = IntegerField("Keep anonymous page views for (days)")


class IdentityForm(Form):
    browsers_per_contact = IntegerField("Browsers one contact's links identify, at most")
    attach_earlier_visits = BooleanField("Attach a browser's earlier anonymous visits to the contact who is "
                                         "identified on it")


class SendToDeveloperForm(Form):
    recipients = StringField("Developer's email addresses")
    note = TextAreaField("Note (optional)")


class FieldForm(Form):
    """Settings → Contact fields: a new field. Key and type are fixed once it exists."""

    name = StringField("Name")
    type = SelectField("Kind of value", choices=[SelectChoice(key.value, name)
                                                        for key, name in TYPE_NAMES.items()])
    key = StringField("Key (optional)")
    choices = TextAreaField("Choices, one a line")
    default = StringField("Default (optional)")


class EditFieldForm(Form):
    name = StringField("Name")
    choices = TextAreaField("Choices, one a line")
    default = StringField("Default (optional)")


class ApiKeyForm(Form):
    name = StringField("Name")
    # (the choice is checked by api_keys.create_key)
    scope = RadioField("Access", default="read", validate_choice=False,
                       choices=[SelectChoice("read", "Read only"), SelectChoice("write", "Read and write")])


class WebhookForm(Form):
    url = URLField("Receiver's address (https://…)")
    description = StringField("Description (optional)")
