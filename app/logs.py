"""Logging for the web app and the workers: one line per record, JSON or text, each carrying the
request id (or the RQ job id) it was made under.

A request's id is its `X-Request-ID` header when that looks like one (a load balancer's), else a
new one; it is sent back in the response's `X-Request-ID` and shown on the error page, so a
report of a failure leads to its log lines.

LOG_LEVEL (warning by default) is the least severe level logged, for the app's lines and the
libraries' alike (RQ's per-job lines and werkzeug's request lines are INFO); the audit trail
(AUDIT_LOGGERS) is logged at every level.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request
from rq import get_current_job

from app.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(header: str | None) -> str:
    """The incoming id if it is safe to repeat in logs and headers, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str:
    """This request's id, decided on first use."""
    if "request_id" not in g:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    return g.request_id


def echo_request_id(response):
    """After each request: the id goes back to the caller."""
    response.headers[REQUEST_ID_HEADER] = current_request_id()
    return response


class ContextFilter(logging.Filter):
    """Adds to each record where it was made: the request (id, method, path) or the RQ job."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = current_request_id()
            record.method = request.method
            record.path = request.path
        else:
            job = get_current_job()
            if job is not None:
                record.job_id = job.id
        return True


_CONTEXT_FIELDS = ("request_id", "method", "path", "job_id")


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            if value := getattr(record, name, None):
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """One readable line (and the traceback, if any) for a terminal."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.context = "".join(f" {name}={value}" for name in ("request_id", "job_id")
                                 if (value := getattr(record, name, None)))
        return super().format(record)


# Loggers whose INFO lines are an audit trail an operator must keep (a privacy erasure): logged
# whatever LOG_LEVEL says. They name ids only, never personal data.
AUDIT_LOGGERS = ("app.privacy",)


class LevelFilter(logging.Filter):
    """Lets through records at `level` or above, and the audit trail's INFO lines.

    A filter rather than the handler's level: libraries that set their own loggers to INFO (RQ's
    worker, werkzeug's request log) add a handler of their own when none above them handles INFO,
    and would print around this one."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or (record.levelno >= logging.INFO
                                                and record.name in AUDIT_LOGGERS)


def configured_level(app: Flask | None = None) -> str:
    """The app's LOG_LEVEL ("WARNING", "INFO", ...), or the environment's when there is no app yet."""
    return app.config["LOG_LEVEL"] if app is not None else Settings.from_environ().log_level


def configure_logging(app: Flask | None = None, *, json: bool | None = None, level: int | str | None = None,
                      stream=None) -> None:
    """One handler on the root logger, to stderr (or `stream`), in the app's LOG_FORMAT and LOG_LEVEL
    (or the environment's when there is no app yet, as in the worker's entry point), unless `json`
    or `level` say otherwise. Calling it again replaces that handler, and only that one."""
    if json is None:
        log_format = app.config["LOG_FORMAT"] if app is not None else Settings.from_environ().log_format
        json = log_format == "json"
    threshold = (level if isinstance(level, int)
                 else logging.getLevelName((level or configured_level(app)).upper()))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(LevelFilter(threshold))
    handler.addFilter(ContextFilter())
    handler.footfall = True
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, "footfall", False)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    # Flask adds its own handler to app.logger only when no handler above it would print its
    # records, which this one now does.
    root.setLevel(threshold)
    # RQ sets its loggers' levels when a worker starts (to the level it is given, LOG_LEVEL's):
    # until one does, they follow the root's.
    for name in ("rq.worker", "rq.job"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name in AUDIT_LOGGERS:
        logging.getLogger(name).setLevel(min(threshold, logging.INFO))
