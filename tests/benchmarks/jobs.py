"""The job the worker benchmark runs once per page view: the cost that draining the stream in
batches (app/tracking/events.py) avoids."""
from app.tracking.events import store_records
from worker import job_context


def store_one(record: str) -> int:
    """Store one stream record as a page view, as if every beacon were its own RQ job."""
    with job_context():
        return store_records([record])
