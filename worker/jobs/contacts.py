"""Jobs of contacts."""
from app.contacts import imports
from worker import job_context


def import_contacts(import_id: int) -> str | None:
    """Import the rows of a stored CSV file and record its report (enqueued with IMPORT_JOB_TIMEOUT)."""
    with job_context():
        contact_import = imports.run_import(import_id)
        return contact_import.status if contact_import else None


def fail_stalled_imports() -> list[int]:
    """The periodic sweep: fail the imports whose job was killed or lost, and drop their files."""
    with job_context():
        return imports.fail_stalled_imports()
