"""The forms of Settings → Website tracking."""
from wtforms import BooleanField, IntegerField, StringField, TextAreaField, URLField

from app.web.forms import Form


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
