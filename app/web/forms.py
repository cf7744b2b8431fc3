"""The base of the app's forms."""
from flask import request
from flask_wtf import FlaskForm


class Form(FlaskForm):
    """Flask-WTF's form reading only an HTML form's fields. FlaskForm also takes a JSON body, or
    the files of a multipart one, as form data: a field then holds a number, a list or a file
    where the code expects text, and a crafted request would answer 500. (A form with a file
    field, the CSV import, stays a FlaskForm.)"""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            wrapped = super().wrap_formdata(form, formdata)
            return request.form if wrapped is not None and wrapped is not formdata else wrapped
