"""Website addresses as marketers type them: validated and normalised."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

MAX_URL_LENGTH = 2048
MATCH_BYTES = 1000
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_HOST_AND_PORT = re.compile(r"^[^:/?#]+:\d+([/?#]|$)")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


class InvalidWebsiteURL(ValueError):
    """The message is shown to the marketer as is."""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def normalise_website_url(raw: str, *, allow_localhost: bool = False) -> str:
    """Return the canonical form of a website address, or raise InvalidWebsiteURL."""
    value = (raw or "").strip()
    if not value:
        raise InvalidWebsiteURL("Enter your website's address, for example https://www.example.com.")
    if len(value) > MAX_URL_LENGTH:
        raise InvalidWebsiteURL(f"That address is too long: at most {MAX_URL_LENGTH:,} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise InvalidWebsiteURL("A website address cannot contain spaces.")
    scheme_match = _SCHEME.match(value)
    if scheme_match and not _HOST_AND_PORT.match(value):
        scheme = scheme_match.group(1).lower()
        if scheme not in ("http", "https"):
            raise InvalidWebsiteURL("Only websites served over http:// or https:// can be tracked.")
        if not value[len(scheme) + 1:].startswith("//"):
            raise InvalidWebsiteURL("Enter a full address such as https://www.example.com.")
    else:
        value = "https://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidWebsiteURL("That port number is not valid.") from None
    if parts.username is not None or parts.password is not None:
        raise InvalidWebsiteURL("Remove the user name and password from the address.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidWebsiteURL("The address needs a domain name, such as example.com.")
    host = _ascii_host(host)
    is_localhost = host == "localhost" or host.endswith(".localhost")
    if is_localhost and not allow_localhost:
        raise InvalidWebsiteURL("Footfall can only track a website on the internet, not localhost.")
    if not (_is_ip(host) or is_localhost):
        labels = host.split(".")
        if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) \
                or not re.match(r"^([a-z]{2,63}|xn--[a-z0-9-]+)$", labels[-1]):
            raise InvalidWebsiteURL("Enter a full domain name, such as example.com.")
    netloc = f"[{host}]" if ":" in host else host
    scheme = parts.scheme.lower()
    if port and not (scheme == "http" and port == 80) and not (scheme == "https" and port == 443):
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, "", ""))


def _ascii_host(host: str) -> str:
    host = host.lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidWebsiteURL("That domain name is not valid.") from None


def site_host(website_url: str) -> str:
    """The host events must come from: lower case, without `www.`; subdomains also match."""
    host = (urlsplit(website_url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def host_matches(url: str, website_host: str) -> bool:
    """The page is on the tracked website: same host or a subdomain, `www.` ignored."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    host = host[4:] if host.startswith("www.") else host
    return host == website_host or host.endswith("." + website_host)


def _without_cid(query: str) -> str:
    return "&".join(part for part in query.split("&") if part and not part.startswith("cid="))


def match_forms(url: str) -> tuple[str, str]:
    """The forms URL rules compare a page address with (docs/architecture.md, "URL rules"): without scheme,
    `www.`, trailing slash or cid, host in lower case — ("shop.example/pricing?plan=pro",
    "/pricing?plan=pro")."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    if parts.port:
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    query = _without_cid(parts.query)
    suffix = f"?{query}" if query else ""
    return capped(host + path + suffix), capped((path or "/") + suffix)


def capped(text: str, limit: int = MATCH_BYTES) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, on a character boundary. The URL forms are
    capped by bytes, not characters: both sit in one PostgreSQL index entry, which may not exceed
    2,704 bytes (1,000 CJK characters take 3,000)."""
    if len(text) * 4 <= limit:  # (no character takes more than 4 bytes)
        return text
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


def match_value(value: str) -> tuple[str, str]:
    """A rule's value in the same form, and which form it compares with: "path" for values that
    start with "/", else "url" (a full address, or any fragment of one)."""
    value = value.strip()
    if value.startswith("/"):
        path, _, query = value.partition("?")
        path = path.rstrip("/") or "/"
        query = _without_cid(query)
        return path + (f"?{query}" if query else ""), "path"
    if "://" in value or re.match(r"^(www\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?(/|$)", value):
        full = value if "://" in value else "http://" + value
        return match_forms(full)[0], "url"
    return value, "url"


def text_matches(op: str, text: str, value: str) -> bool:
    """The URL operators of segments and triggers, in Python (the compiler has the SQL twin)."""
    if op == "is":
        return text == value
    if op == "is_not":
        return text != value
    if op == "contains":
        return value in text
    if op == "not_contains":
        return value not in text
    if op == "starts_with":
        return text.startswith(value)
    if op == "ends_with":
        return text.endswith(value)
    if op == "matches":
        return wildcard_matcher(value)(text)
    raise ValueError(op)


def wildcard_matcher(pattern: str) -> Callable[[str], bool]:
    """A test of whether a whole text matches a wildcard pattern (`*` is any text, the rest
    literal), without backtracking: the first and last pieces are a prefix and a suffix, and each
    piece between is found leftmost after the one before, which never needs to be undone: one pass
    over the text, left to right, each piece looked for once with str.find (page forms are capped
    at 1,000 bytes). A regular
    expression of the same pattern may try exponentially many splits: `*a*a*a*a*a*!` against
    1,000 `a`s held the event consumer for minutes (tests/benchmarks/wildcard.py)."""
    first, *middle = pattern.split("*")
    if not middle:
        return lambda text: text == pattern
    last = middle.pop()
    pieces = [piece for piece in middle if piece]
    shortest = len(first) + len(last) + sum(map(len, pieces))

    def matches(text: str) -> bool:
        if len(text) < shortest or not text.startswith(first) or not text.endswith(last):
            return False
        position, end = len(first), len(text) - len(last)
        for piece in pieces:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True
    return matches


def url_rule_literal(op: str, value: str) -> tuple[str, str] | None:
    """(form, text) that must occur in a page's URL form for the rule to match it: a cheap test
    that dismisses most page views for many rules at once. None for negated rules, which no text
    stands for."""
    normalised, form = match_value(value)
    if form == "url" and op in ("is", "is_not") and "/" not in normalised:
        normalised = normalised.lower()
    if op in ("is", "contains", "starts_with", "ends_with"):
        return form, normalised
    if op == "matches":
        return form, max(normalised.split("*"), key=len)
    return None


def compile_url_rule(op: str, value: str):
    """A predicate on (match_url, match_path) for a URL rule, prepared once: for hot loops."""
    normalised, form = match_value(value)
    if form == "url" and op in ("is", "is_not") and "/" not in normalised:
        normalised = normalised.lower()
    if op == "matches":
        test = wildcard_matcher(normalised)
    else:
        test = lambda text: text_matches(op, text, normalised)  # noqa: E731
    if form == "path":
        return lambda match_url, match_path: test(match_path)
    return lambda match_url, match_path: test(match_url)
