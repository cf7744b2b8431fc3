"""The install check of first-party mode: does the website's proxy lead to Footfall, with the
site's secret, the visitor's address and cookies passed on, and Footfall's Set-Cookie passed back?

Two requests to the website, guarded as the page fetch is (app/tracking/install_check.py): the
script at /ff/t/<site key>.js, then a probe, `POST /ff/collect?probe=<nonce>` carrying a cookie,
which Footfall answers with what it saw (PROBE_VERDICT, PROBE_COOKIE) and a cookie of its own
(app/ingest). Nothing is stored.
"""
from __future__ import annotations

import http.client
import json
import secrets
import socket
import ssl
import time
from urllib.parse import urlsplit

from app.tracking.first_party import (PATH_PREFIX, PROBE_COOKIE, PROBE_COOKIE_NAME, PROBE_VERDICT,
                                      PROXY_HEADER)
from app.tracking.install_check import InstallCheckResult, Unreachable, fetch
_MAX_BYTES = 64 * 1024

_PROBLEMS = {
    "proxy_missing": f"does not add the {PROXY_HEADER} header with your site's secret",
    "proxy_secret": f"sends a secret in the {PROXY_HEADER} header that is not this site's",
    "proxy_address": "does not pass the visitor's address (X-Forwarded-For)",
    "standard": "works, but tracking is set to the standard way in Settings",
}


def check_proxy(found: InstallCheckResult, site_key: str, *, allow_private: bool = False,
                timeout: float = 5.0) -> InstallCheckResult:
    """`found` (the code is in the page's head) completed with the proxy's state: still
    found_in_head if the proxy works, else proxy_broken saying what to fix."""
    parts = urlsplit(found.final_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    deadline = time.monotonic() + timeout
    try:
        problem = _problem(origin, site_key, allow_private=allow_private, deadline=deadline)
    except Unreachable as exc:
        problem = str(exc)
    except (TimeoutError, OSError, ssl.SSLError, socket.gaierror, http.client.HTTPException,
            ValueError) as exc:
        problem = f"Could not reach {origin}{PATH_PREFIX}/: {str(exc) or type(exc).__name__}."
    if problem is None:
        works = f" The proxy at {origin}{PATH_PREFIX}/ works: your website's server sets the cookies."
        return InstallCheckResult("found_in_head", found.message + works, found.final_url)
    return InstallCheckResult("proxy_broken", f"The code is in the <head>, but {problem}", found.final_url)


def _problem(origin: str, site_key: str, *, allow_private: bool, deadline: float) -> str | None:
    script_url = f"{origin}{PATH_PREFIX}/t/{site_key}.js"
    script = fetch(script_url, allow_private=allow_private, deadline=deadline, max_bytes=_MAX_BYTES)
    if not 200 <= script.status < 300 or f'"k":"{site_key}"'.encode() not in script.body:
        return (f"{script_url} does not lead to Footfall (it answered {script.status} {script.reason}): "
                f"add the proxy rule from Settings for the path {PATH_PREFIX}/.")
    nonce = secrets.token_urlsafe(12)
    probe = fetch(f"{origin}{PATH_PREFIX}/collect?probe={nonce}", allow_private=allow_private,
                  deadline=deadline, max_bytes=_MAX_BYTES, method="POST",
                  body=json.dumps({"k": site_key}).encode(),
                  headers={"Content-Type": "text/plain", "Cookie": f"{PROBE_COOKIE_NAME}={nonce}"})
    headers = probe.headers
    verdict = headers.get(PROBE_VERDICT) if headers is not None else None
    if verdict is None:
        return (f"{origin}{PATH_PREFIX}/collect does not lead to Footfall's /collect (it answered "
                f"{probe.status} {probe.reason}): the proxy rule must forward the whole path {PATH_PREFIX}/.")
    if verdict != "verified":
        reason = _PROBLEMS.get(verdict, f"is refused ({verdict})")
        return f"your proxy {reason}: copy the rule again from Settings."
    if headers.get(PROBE_COOKIE) != "received":
        return "your proxy does not pass the browser's cookies (the Cookie header) on to Footfall."
    if not any(value.startswith(f"{PROBE_COOKIE_NAME}=") for value in headers.get_all("Set-Cookie") or []):
        return "your proxy drops Footfall's Set-Cookie header: browsers would get no cookie."
    return None
