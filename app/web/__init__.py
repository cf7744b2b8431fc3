"""Blueprints for the marketer's pages, one per area."""
from flask import current_app, render_template, request

from app.extensions import htmx


def public_url() -> str:
    """The address the embed code and emails point to: PUBLIC_URL, else this request's host."""
    return current_app.config["PUBLIC_URL"] or request.url_root.rstrip("/")


def page_or_fragment(page: str, fragment: str, status_code: int = 200, /, **context):
    """A URL returns a page, or for htmx only the fragment that changed (DESIGN.md, convention 5)."""
    return render_template(fragment if htmx else page, **context), status_code
