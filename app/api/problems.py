"""Errors of the REST API as RFC 9457 problem details (`application/problem+json`): a status, a
title, what went wrong, and for bad input the field that was wrong."""

from __future__ import annotations

from flask import Response, json
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error: RFC 9457 problem details, with the fields that were wrong (`field`: the first)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    field: str | None = None
    errors: list[FieldProblem] = []


class ApiError(Exception):
    """Raised by a route: answered as a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        field: str | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field
        self.errors = errors or ({field: detail} if field else {})
        self.headers = headers or {}


def problem_response(
    status: int,
    detail: str = "",
    field: str | None = None,
    errors: dict[str, str] | None = None,
    headers=None,
) -> Response:
    body = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "field": field,
        "errors": [{"field": name, "message": message} for name, message in (errors or {}).items()],
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_api_error(error: ApiError) -> Response:
    return problem_response(error.status, error.detail, error.field, error.errors, error.headers)


def from_http_exception(error: HTTPException) -> Response:
    """A werkzeug error (404, 405 with its Allow header, 413...) as a problem."""
    headers = {name: value for name, value in error.get_headers() if name.lower() in ("allow", "retry-after")}
    detail = {
        404: "There is nothing at this address, or it belongs to another account.",
        405: "This address does not take this method (see the Allow header).",
        413: "The request body is too large.",
    }.get(error.code, error.description or "")
    return problem_response(error.code or 500, detail, headers=headers)


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "body"


def from_validation_error(error: ValidationError) -> Response:
    """A request that does not match its schema (flask-openapi3's validation_error_callback)."""
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False):
        errors.setdefault(_location(item.get("loc", ())), item.get("msg", "Invalid value."))
    first = next(iter(errors), None)
    detail = f"{first}: {errors[first]}" if first else "The request does not match its schema."
    return problem_response(422, detail, first, errors)
