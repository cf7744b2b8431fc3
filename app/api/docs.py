"""The API's OpenAPI 3.1 document, made from the routes by flask-openapi3, and its reference page
(rendered here from the same document: no script, no CDN)."""

from __future__ import annotations

import copy

from flask import current_app, jsonify, render_template
from markupsafe import Markup, escape

from app.api import docs_bp
from app.public_url import public_url

DESCRIPTION = """The REST API of Footfall. Every request sends an API key of the account (Settings → API):
`Authorization: Bearer <key>`. Read only keys may GET; read and write keys may also change.

Lists are paged with cursors: pass a page's `next_cursor` as `cursor` for the next one (null on the
last). Errors are RFC 9457 problem details (`application/problem+json`), naming in `field` what was
wrong. A creating POST sent with an `Idempotency-Key` header is done once: the same key within a day
gets the same answer (`Idempotent-Replayed: true`)."""


def document() -> dict:
    """The OpenAPI document, with the address of this instance as its server."""
    spec = copy.deepcopy(current_app.api_doc)
    spec["servers"] = [{"url": f"{public_url()}/api/v1"}]
    # flask-openapi3 adds the paths with their prefix: the server carries it instead.
    spec["paths"] = {path.removeprefix("/api/v1") or "/": item for path, item in spec["paths"].items()}
    for item in spec["paths"].values():
        for operation in item.values():
            # (its default 422, a list of pydantic errors, is replaced by the problem every route answers)
            operation.get("responses", {}).pop("default", None)
    return spec


@docs_bp.app_template_filter("code_spans")
def code_spans(text: str) -> Markup:
    """Text with `code` in backticks, as HTML (everything else escaped)."""
    parts = str(escape(text or "")).split("`")
    return Markup("".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)))


@docs_bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document."""
    response = jsonify(document())
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@docs_bp.get("/reference")
def reference():
    """The API reference: every operation with its parameters, body and answers."""
    spec = document()
    schemas = spec.get("components", {}).get("schemas", {})
    operations = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            operations.append({"method": method.upper(), "path": path, **operation})
    tags = [tag["name"] for tag in spec.get("tags", [])]
    by_tag = {tag: [op for op in operations if tag in op.get("tags", [])] for tag in tags}
    return render_template("api/reference.html", spec=spec, by_tag=by_tag, schemas=schemas)
