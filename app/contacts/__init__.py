"""Contacts of an account, one module per job: people.py (find, search, add, edit, delete (erasure,
app/privacy.py), subscriptions), phones.py (phone numbers in E.164), lists.py (lists and tags),
fields.py (contact fields: the built-in ones and the account's own, their values checked by type),
history.py (a contact's emails, text messages and clicks), imports.py (CSV imports: upload, the job,
the sweep, progress and report; import_file.py reads the file's rows) and errors.py (ContactError)."""
