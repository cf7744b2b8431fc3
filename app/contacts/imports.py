"""CSV imports of contacts: the upload (start_import), the job that imports the rows in batches
(run_import), the sweep that fails the imports whose job will not run (fail_stalled_imports), and
the progress, summary and report the status page shows. Reading the file: import_file.py."""
from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO

from flask import current_app
from rq.timeouts import JobTimeoutException
from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from app.contacts import fields as contact_fields
from app.contacts.errors import ContactError
from app.contacts.import_file import (MEMBERSHIP_COLUMNS, Row, column_key, csv_rows, decode, header_columns,
                                      line_count, parse_row)
from app.extensions import db
from app.models import Contact, ContactImport, ContactList, Tag, contact_tags, list_members
from app.models.contacts import UNFINISHED_IMPORT, ImportStatus, Subscription
from app.models.types import utcnow
from app.queues import enqueue_after_commit, pending_jobs
from app.signals import contact_fields_changed, list_joined, tag_added

# The name the import's log lines have had since they were in app/contacts.py.
log = logging.getLogger("app.contacts")
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_BATCH_SIZE = 500
# A queued import whose job is not in Redis this long after the upload never got it (enqueueing
# failed, or Redis lost it): the sweep fails it. A running import's job existed; it gets no grace.
IMPORT_START_GRACE = timedelta(minutes=1)
# An uploaded file whose columns are not matched this long after the upload is dropped by the
# sweep (it holds personal data nobody is going to import).
IMPORT_MAPPING_GRACE = timedelta(days=1)
# Skipped rows beyond this many are counted but not listed one by one.
IMPORT_REPORT_LIMIT = 1000


def get_import(account_id: int, import_id: int) -> ContactImport | None:
    return db.session.scalar(select(ContactImport).where(ContactImport.id == import_id,
                                                         ContactImport.account_id == account_id))


def recent_imports(account_id: int, limit: int = 10) -> list[ContactImport]:
    return list(db.session.scalars(select(ContactImport).where(ContactImport.account_id == account_id)
                                   .order_by(ContactImport.id.desc()).limit(limit)))


def import_job_id(import_id: int) -> str:
    """The id of an import's job, by which the sweep finds whether it is still to run."""
    return f"contact-import-{import_id}"


def upload(account_id: int, user_id: int | None, filename: str, stream: BinaryIO) -> ContactImport:
    """Store an uploaded CSV file, to be imported once its columns are matched to fields (confirm)."""
    data = stream.read(IMPORT_MAX_BYTES + 1)
    if not data:
        raise ContactError("Choose a CSV file to import.", "file")
    if len(data) > IMPORT_MAX_BYTES:
        raise ContactError("The file is larger than 5 MB. Split it into smaller files and import each.",
                           "file")
    text = decode(data)
    if not any(title.strip() for title in next(csv_rows(text), None) or []):
        raise ContactError("The first row must name the columns, and one of them must be email "
                           "(also possible: phone, first_name, last_name, tags, lists, and your fields).",
                           "file")
    contact_import = ContactImport(account_id=account_id, user_id=user_id, filename=(filename or "")[:255],
                                   csv_text=text, status=ImportStatus.MAPPING, rows_total=line_count(text))
    db.session.add(contact_import)
    db.session.flush()
    return contact_import


def start_import(account_id: int, user_id: int | None, filename: str, stream: BinaryIO) -> ContactImport:
    """Store a CSV file and have it imported, its columns taken by their names, by a job once the
    caller commits."""
    contact_import = upload(account_id, user_id, filename, stream)
    header_columns(next(csv_rows(contact_import.csv_text), None))  # an email column, or ContactError
    return confirm(contact_import, {})


PREVIEW_ROWS = 5
# A column whose values go to a new field of this type ("new:number").
NEW_FIELD_TYPES = ("text", "number", "date", "boolean")


@dataclass
class Column:
    """A column of an uploaded file as the mapping page shows it."""

    position: int
    title: str
    samples: list[str]
    # The field it goes to: a key, "tags", "lists", "new:<type>", or "" (not imported).
    target: str


def _preview(contact_import: ContactImport) -> tuple[list[str], list[list[str]]]:
    rows = csv_rows(contact_import.csv_text)
    header = next(rows, None) or []
    sample: list[list[str]] = []
    try:
        for values in rows:
            if any(value.strip() for value in values):
                sample.append(values)
            if len(sample) == PREVIEW_ROWS:
                break
    except csv.Error:
        pass  # the import reports it, with its row
    return header, sample


def columns(contact_import: ContactImport) -> tuple[list[Column], list[list[str]]]:
    """The file's columns with the field each is matched to by its title (or, for email, by
    values that look like addresses), and the first rows."""
    by_key = contact_fields.fields_by_key(contact_import.account_id)
    header, sample = _preview(contact_import)
    found, taken = [], set()
    for position, title in enumerate(header):
        samples = [values[position].strip()[:80] if position < len(values) else "" for values in sample]
        target = column_key(title, by_key)
        if target and target in taken:
            target = ""
        taken.add(target)
        found.append(Column(position, title.strip() or f"Column {position + 1}", samples, target or ""))
    if "email" not in taken:
        for column in found:
            filled = [value for value in column.samples if value]
            if not column.target and filled and all("@" in value for value in filled):
                column.target = "email"
                break
    return found, sample


def targets(account_id: int) -> list[tuple[str, str]]:
    """What a column can go to, (value, label), for the mapping page's choices."""
    options = [(field.key, field.name) for field in contact_fields.account_fields(account_id)]
    options += list(MEMBERSHIP_COLUMNS.items())
    options += [(f"new:{kind}", f"A new field: {contact_fields.TYPE_NAMES[kind].lower()}")
                for kind in NEW_FIELD_TYPES]
    return options


def confirm(contact_import: ContactImport, chosen: dict[int, str]) -> ContactImport:
    """Match the file's columns to fields (position: target as in Column.target; a position not
    given keeps its proposed target), create the new fields, and have the import run by a job
    once the caller commits. ContactError says what is wrong with the matching."""
    if contact_import.status != ImportStatus.MAPPING:
        raise ContactError("This import has already started.", "mapping")
    proposed, _ = columns(contact_import)
    # Claimed in one UPDATE: of two confirmations at once, the second finds it started (the
    # caller's rollback on an error below gives it back).
    claimed = db.session.execute(update(ContactImport).where(ContactImport.id == contact_import.id,
                                                             ContactImport.status == ImportStatus.MAPPING)
                                 .values(status=ImportStatus.QUEUED)
                                 .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise ContactError("This import has already started.", "mapping")
    valid = {value for value, _ in targets(contact_import.account_id)}
    mapping: dict[str, str] = {}
    for column in proposed:
        target = chosen.get(column.position, column.target) or ""
        if target and target not in valid:
            raise ContactError(f"Choose what the column “{column.title}” holds.", "mapping")
        if target in mapping.values() and not target.startswith("new:"):
            names = dict(targets(contact_import.account_id))
            raise ContactError(f"Two columns go to {names[target]}: choose one of them.", "mapping")
        if target:
            mapping[str(column.position)] = target
    if "email" not in mapping.values():
        raise ContactError("Choose the column that holds the email addresses.", "mapping")
    for column in proposed:
        target = mapping.get(str(column.position), "")
        if target.startswith("new:"):
            try:
                key = contact_fields.key_for(column.title) or f"column_{column.position + 1}"
                new = contact_fields.create_field(contact_import.account_id, column.title, target[4:],
                                                  key=key)
            except ContactError as error:
                raise ContactError(f"The column “{column.title}” cannot be a new field: {error}",
                                   "mapping") from None
            mapping[str(column.position)] = new.key
    contact_import.mapping, contact_import.status = mapping, ImportStatus.QUEUED
    db.session.flush()
    enqueue_after_commit(db.session, "worker.jobs.contacts.import_contacts", contact_import.id,
                         job_id=import_job_id(contact_import.id))
    return contact_import


class _NamedRows:
    """The account's lists or tags by lower-cased name, created the first time a name is needed."""

    def __init__(self, model, account_id: int):
        self.model, self.account_id = model, account_id
        self.ids = {name.lower(): row_id for row_id, name in db.session.execute(
            select(model.id, model.name).where(model.account_id == account_id))}

    def id_for(self, name: str) -> int:
        key = name.lower()
        if key not in self.ids:
            self.ids[key] = db.session.scalar(insert(self.model).values(account_id=self.account_id, name=name,
                                                                        created_at=utcnow())
                                              .returning(self.model.id))
        return self.ids[key]


class _ExistingContacts:
    """The account's contacts by lower-cased email, found through the (account_id, email) index
    rather than by lower-casing every contact of the account for each batch: an email matches the
    contact stored as written or in lower case, or one of those stored with capitals, whose ids
    are read once per import (most addresses are stored in lower case)."""

    def __init__(self, account_id: int):
        self.account_id = account_id
        self.capitalised = {email.lower(): contact_id for contact_id, email in db.session.execute(
            select(Contact.id, Contact.email).where(Contact.account_id == account_id,
                                                    Contact.email != func.lower(Contact.email)))}

    def find(self, rows: dict[str, Row]) -> dict[str, tuple]:
        """For the rows by lower-cased email, the (id, first name, last name, phone, company,
        birthday, anniversary, custom fields) of those there."""
        emails = set(rows) | {row.email for row in rows.values()}
        condition = (Contact.account_id == self.account_id) & Contact.email.in_(emails)
        ids = [self.capitalised[key] for key in rows if key in self.capitalised]
        if ids:
            condition = or_(condition, Contact.id.in_(ids))
        found = db.session.execute(select(Contact.email, Contact.id, *_STORED).where(condition))
        return {email.lower(): tuple(values) for email, *values in found if email.lower() in rows}


# The columns an import may update, after the contact's id in _ExistingContacts.find.
_STORED = (Contact.first_name, Contact.last_name, Contact.phone, Contact.company, Contact.birthday,
           Contact.anniversary, Contact.custom)
_BUILT_IN = ("first_name", "last_name", "phone", "company", "birthday", "anniversary")


@dataclass
class _Progress:
    imported: int = 0
    updated: int = 0
    skipped: list[dict] = field(default_factory=list)
    skipped_count: int = 0
    # The rows after the header read so far.
    read: int = 0
    # The report entries already written (the report is written again only when it grows).
    reported: int = 0

    def skip(self, row: int | None, reason: str) -> None:
        if row is not None:
            self.skipped_count += 1
        if len(self.skipped) < IMPORT_REPORT_LIMIT or row is None:
            self.skipped.append({"row": row, "reason": reason})

    def values(self) -> dict:
        """The import's columns for these figures."""
        values = {"imported": self.imported, "updated": self.updated, "skipped": self.skipped_count,
                  "rows_read": self.read}
        if len(self.skipped) != self.reported:
            values["report"], self.reported = json.dumps(self.skipped), len(self.skipped)
        return values


def _add_memberships(table, key: str, pairs: set[tuple[int, int]], account_id: int, signal, *,
                     existing_contacts: set[int], now) -> None:
    """Insert (list or tag id, contact id) pairs that are not there yet, and announce them. Only
    the contacts in `existing_contacts` (those there before the batch) may have some already."""
    if not pairs:
        return
    contact_ids = {contact_id for _, contact_id in pairs if contact_id in existing_contacts}
    existing: set[tuple[int, int]] = set()
    if contact_ids:
        existing = {(owner_id, contact_id) for owner_id, contact_id in db.session.execute(
            select(table.c[key], table.c.contact_id).where(table.c.contact_id.in_(contact_ids)))}
    new = [{key: owner_id, "contact_id": contact_id, "added_at": now}
           for owner_id, contact_id in sorted(pairs - existing)]
    if new:
        db.session.execute(insert(table), new)
        by_owner: dict[int, list[int]] = {}
        for row in new:
            by_owner.setdefault(row[key], []).append(row["contact_id"])
        for owner_id, contact_ids in by_owner.items():
            signal.send(account_id, contact_ids=contact_ids, **{key: owner_id})


def _store_batch(account_id: int, batch: list[Row], known: _ExistingContacts, lists: _NamedRows,
                 tags: _NamedRows, progress: _Progress) -> None:
    """Insert the new contacts of a batch, update the existing ones, add their lists and tags:
    a handful of indexed statements per batch, whatever its size and the account's (Core inserts:
    the ORM's bulk machinery would cost more than the database does)."""
    by_key = {row.email.lower(): row for row in batch}
    existing = known.find(by_key)
    now = utcnow()
    ids: dict[str, int] = {}
    changes, new = [], []
    for key, row in by_key.items():
        given = {"first_name": row.first_name, "last_name": row.last_name, "phone": row.phone,
                 **{name: row.fields.get(name, "") for name in _BUILT_IN[3:]}}
        custom = {name: value for name, value in row.fields.items() if name not in given}
        if key in existing:
            contact_id, *stored = existing[key]
            ids[key] = contact_id
            before = dict(zip(_BUILT_IN, stored[:-1], strict=True))
            values = {name: given[name] or before[name] for name in _BUILT_IN}
            merged = {**(stored[-1] or {}), **custom}
            if values != before or merged != (stored[-1] or {}):
                changes.append({"id": contact_id, **values, "custom": merged})
        else:
            new.append({"account_id": account_id, "email": row.email, **given, "custom": custom,
                        "email_status": Subscription.SUBSCRIBED, "sms_status": Subscription.SUBSCRIBED,
                        "created_at": now})
    if changes:
        db.session.execute(update(Contact), changes)
    if new:
        table = Contact.__table__
        for contact_id, email in db.session.execute(insert(table).returning(table.c.id, table.c.email), new):
            ids[email.lower()] = contact_id
    existing_contacts = {contact_id for contact_id, *_ in existing.values()}
    _add_memberships(list_members, "list_id",
                     {(lists.id_for(name), ids[key]) for key, row in by_key.items() for name in row.lists},
                     account_id, list_joined, existing_contacts=existing_contacts, now=now)
    _add_memberships(contact_tags, "tag_id",
                     {(tags.id_for(name), ids[key]) for key, row in by_key.items() for name in row.tags},
                     account_id, tag_added, existing_contacts=existing_contacts, now=now)
    progress.imported += len(new)
    progress.updated += len(by_key) - len(new)
    # Segments comparing fields update for these contacts once the batch commits.
    contact_fields_changed.send(account_id, contact_ids=sorted(ids.values()))


def run_import(import_id: int) -> ContactImport | None:
    """Import the rows of a stored CSV file in batches, committing each with the figures so far
    (the status page shows them), and record the report.

    Rows are deduplicated by email, case-insensitively: the first row of an email is imported and
    later rows with the same email are skipped as duplicates. A contact who already exists is
    updated: names and phone only where the file has a value; lists and tags are added, never
    removed. A failed import is marked failed, with the reason as a report entry without a row; so
    is one stopped for running longer than IMPORT_JOB_TIMEOUT: by RQ, which raises
    JobTimeoutException in the job, or by the import itself at its next batch (RQ's exception is
    lost when it interrupts a garbage collector's callback). The batches committed before stay,
    and the report says up to which row. An import that the sweep failed meanwhile
    (fail_stalled_imports) stops at its next batch."""
    contact_import = db.session.get(ContactImport, import_id)
    if contact_import is None or contact_import.status not in UNFINISHED_IMPORT:
        return contact_import
    if not _save(import_id, {"status": ImportStatus.RUNNING}, from_status=UNFINISHED_IMPORT):
        return db.session.get(ContactImport, import_id)
    progress = _Progress()
    number = 1  # the last row read
    deadline = time.monotonic() + current_app.config["IMPORT_JOB_TIMEOUT"]
    try:
        rows = csv_rows(contact_import.csv_text)
        account_id = contact_import.account_id
        by_key = contact_fields.fields_by_key(account_id)
        header = next(rows, None)
        if contact_import.mapping is None:  # queued by a version without the mapping page
            columns = header_columns(header, by_key)
        else:
            columns = {target: int(position) for position, target in contact_import.mapping.items()
                       if target in by_key or target in MEMBERSHIP_COLUMNS}
        known, lists, tags = _ExistingContacts(account_id), _NamedRows(ContactList, account_id), \
            _NamedRows(Tag, account_id)
        first_row_of: dict[str, int] = {}
        analyze_at = ANALYZE_AFTER
        batch: list[Row] = []
        for number, values in enumerate(rows, start=2):
            if not any(value.strip() for value in values):
                continue
            row = parse_row(values, columns, by_key)
            if isinstance(row, str):
                progress.skip(number, row)
                continue
            key = row.email.lower()
            if key in first_row_of:
                progress.skip(number, f"duplicate of row {first_row_of[key]}")
                continue
            first_row_of[key] = number
            batch.append(row)
            if len(batch) == IMPORT_BATCH_SIZE:
                _store_batch(account_id, batch, known, lists, tags, progress)
                progress.read, batch = number - 1, []
                if not _save(import_id, progress.values()):
                    return db.session.get(ContactImport, import_id)
                if progress.imported >= analyze_at:  # 2,000 new contacts, then 20,000, …
                    _refresh_statistics()
                    analyze_at *= 10
                if time.monotonic() > deadline:
                    raise ImportTimedOut(f"the import ran longer than {_import_time_limit()}")
        if batch:
            _store_batch(account_id, batch, known, lists, tags, progress)
        progress.read = number - 1
    except Exception as error:
        _start_afresh()
        # What the batches committed before: the rollback expired the object, so it is read again.
        committed = db.session.get(ContactImport, import_id)
        progress.imported, progress.updated = committed.imported, committed.updated
        progress.read = committed.rows_read
        if isinstance(error, ContactError):
            reason = str(error)
        else:
            if isinstance(error, csv.Error):
                problem = f"Row {number + 1} is not valid CSV ({error})."
            elif _timed_out(error):
                problem = f"The import took longer than {_import_time_limit()} and was stopped."
            else:
                problem = f"The import stopped unexpectedly ({type(error).__name__})."
            reason = f"{problem} {_rows_kept(progress.read)}"
        progress.skip(None, reason)
        _finish_import(import_id, ImportStatus.FAILED, progress)
        if not isinstance(error, (ContactError, csv.Error)):
            raise  # a timeout, a bug or a database failure: keep its traceback in RQ's failed jobs
        return db.session.get(ContactImport, import_id)
    _finish_import(import_id, ImportStatus.DONE, progress)
    return db.session.get(ContactImport, import_id)


# New contacts imported after which PostgreSQL's statistics of the table are refreshed (and
# after ten times as many again): a table that grows from a few rows to many within one import
# would otherwise be planned as if it were still small, finding each batch's contacts by
# scanning all of the account's instead of through the (account, email) index, and the import
# would slow down with every batch.
ANALYZE_AFTER = 2_000


def _refresh_statistics() -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE contacts"))
        db.session.commit()


def _start_afresh() -> None:
    """Roll back the failed work. RQ's timeout can land in the middle of a statement (its alarm
    interrupts psycopg's wait), which leaves the connection unusable: its rollback fails too
    ("another command is already in progress"). Then the connection is dropped, and the failure
    is recorded on a new one."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session().invalidate()


class ImportTimedOut(Exception):
    """An import ran longer than IMPORT_JOB_TIMEOUT, and stopped itself."""


def _timed_out(error: BaseException | None) -> bool:
    """Whether the error is the job's timeout, or wraps it (SQLAlchemy's StatementError does, when
    RQ's exception interrupts a statement)."""
    while error is not None:
        if isinstance(error, (JobTimeoutException, ImportTimedOut)):
            return True
        error = error.__cause__
    return False


def _save(import_id: int, values: dict, from_status: tuple[str, ...] = (ImportStatus.RUNNING,)) -> bool:
    """Commit the work so far with these values of the import, unless its status is no longer one
    of `from_status` (the sweep failed it meanwhile): then roll the work back. Whether it committed."""
    saved = db.session.execute(update(ContactImport).where(ContactImport.id == import_id,
                                                           ContactImport.status.in_(from_status))
                               .values(**values).execution_options(synchronize_session=False)).rowcount
    if not saved:
        db.session.rollback()
        return False
    db.session.commit()
    return True


def _finish_import(import_id: int, status: ImportStatus, progress: _Progress) -> None:
    # The uploaded file holds personal data that nothing needs once its import is over (an
    # erased contact's row must not stay behind in it); the report keeps what the marketer sees.
    _save(import_id, {**progress.values(), "status": status, "finished_at": utcnow(), "csv_text": ""})


def _import_time_limit() -> str:
    """IMPORT_JOB_TIMEOUT in words: "30 minutes", "90 seconds"."""
    seconds = current_app.config["IMPORT_JOB_TIMEOUT"]
    amount, unit = (seconds // 60, "minute") if seconds % 60 == 0 else (seconds, "second")
    return f"{amount:,} {unit}{'' if amount == 1 else 's'}"


def _rows_kept(rows_read: int) -> str:
    return f"Rows 2 to {rows_read + 1} were imported; the rest was not." if rows_read else \
        "No contacts were imported."


def fail_stalled_imports(now: datetime | None = None) -> list[int]:
    """The sweep: fail the imports left queued or running whose job will not run (any more), and
    drop their files; the ids of those failed.

    That is a job that was killed (its worker died, or RQ stopped it for its time limit before it
    could say so), one Redis lost, or one that could not be enqueued. A running job counts as
    gone once it has been running longer than its timeout (app.queues.pending_jobs)."""
    now = now or utcnow()
    unfinished = db.session.execute(select(ContactImport.id, ContactImport.status).where(or_(
        ContactImport.status == ImportStatus.RUNNING,
        (ContactImport.status == ImportStatus.QUEUED)
        & (ContactImport.created_at <= now - IMPORT_START_GRACE)))).all()
    pending = pending_jobs([import_job_id(import_id) for import_id, _ in unfinished])
    abandoned = db.session.scalars(select(ContactImport.id).where(
        ContactImport.status == ImportStatus.MAPPING, ContactImport.created_at <= now - IMPORT_MAPPING_GRACE))
    return [import_id for import_id, status in unfinished
            if import_job_id(import_id) not in pending and _fail_stalled(import_id, status)] + \
        [import_id for import_id in list(abandoned) if _fail_stalled(import_id, ImportStatus.MAPPING)]


def _fail_stalled(import_id: int, status: str) -> bool:
    contact_import = db.session.get(ContactImport, import_id)
    if status == ImportStatus.MAPPING:
        reason = ("The import did not start: its columns were not matched within a day of the upload, "
                  "so the file was deleted. No contacts were imported; upload the file again.")
    elif status == ImportStatus.QUEUED:
        reason = ("The import did not start: its job was lost. No contacts were imported; "
                  "upload the file again.")
    else:
        kept = _rows_kept(contact_import.rows_read)
        if not contact_import.rows_read and (contact_import.imported or contact_import.updated):
            # Left running by a version that did not count its rows.
            kept = "The contacts counted below were imported; the rest was not."
        reason = (f"The import stopped before it finished: it took longer than {_import_time_limit()}, "
                  f"or the worker running it stopped. {kept}")
    report = json.dumps(import_report(contact_import) + [{"row": None, "reason": reason}])
    # Only if the import is still where the sweep saw it: a queued one may have started meanwhile.
    failed = _save(import_id, {"status": ImportStatus.FAILED, "finished_at": utcnow(), "csv_text": "",
                               "report": report}, from_status=(status,))
    if failed:
        log.warning("contact import %d of account %d failed: %s", import_id, contact_import.account_id,
                    reason)
    return failed


def import_progress(contact_import: ContactImport) -> str:
    """"34,000 of about 100,000 rows" read so far (the total counts the file's lines)."""
    if contact_import.rows_total < contact_import.rows_read:
        return f"{contact_import.rows_read:,} rows"
    return f"{contact_import.rows_read:,} of about {contact_import.rows_total:,} rows"


def import_summary(contact_import: ContactImport) -> str:
    """"1,204 imported, 3 updated, 3 skipped"."""
    return (f"{contact_import.imported:,} imported, {contact_import.updated:,} updated, "
            f"{contact_import.skipped:,} skipped")


def import_report(contact_import: ContactImport) -> list[dict]:
    """The skipped rows ({"row": 17, "reason": "…"}); an entry without a row is why the import failed."""
    return json.loads(contact_import.report or "[]")
