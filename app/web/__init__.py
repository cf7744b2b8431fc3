"""Blueprints for the marketer's pages, one per area."""
from flask import make_response, redirect, render_template

from flask_login import current_user, login_required

from app import timezones
from app.extensions import htmx
from app.models.types import MAX_ID
from app.public_url import remember_request_url


def record_id(value) -> int | None:
    """A row id from a form or query value: a positive whole number a database can hold, else
    None (a larger number would make the database driver fail rather than find nothing)."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def require_login(blueprint) -> None:
    """Every page of the blueprint needs a signed-in user, whose address for the app is the guess
    at its public URL while PUBLIC_URL is unset (app/public_url.py)."""
    blueprint.before_request(login_required(remember_request_url))


def page_or_fragment(page: str, fragment: str, status_code: int = 200, /, **context):
    """A URL returns a page, or for htmx only the fragment that changed (docs/architecture.md,
    convention 5)."""
    return render_template(fragment if htmx else page, **context), status_code


def redirect_to(target: str):
    """A redirect that also works for htmx requests (HX-Redirect: the whole page goes there)."""
    if htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def time_zone() -> str:
    """The time zone of the signed-in user's account, which pages show times in (UTC for anyone
    signed out)."""
    return current_user.account.time_zone if current_user and current_user.is_authenticated else timezones.UTC


def local_time(moment) -> str:
    """{{ moment | local_time }}: "2026-12-03 09:15 CET", in the account's time zone."""
    return timezones.shown(moment, time_zone())


def local_input(moment) -> str:
    """{{ moment | local_input }}: the value of a datetime-local input, in the account's time zone."""
    return f"{timezones.local(moment, time_zone()):%Y-%m-%dT%H:%M}" if moment else ""
