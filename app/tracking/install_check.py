"""Check installation: fetch the marketer's website and report whether the embed code is in its <head>.

The fetch is made on behalf of a user to an address the user chose, so it is guarded like any
server-side request: http(s) only, one deadline for the whole fetch, a cap on the bytes read, a
few redirects followed by hand, and (unless allowed) no private, loopback or link-local address,
checked on the resolved addresses that are then connected to, so DNS rebinding cannot slip one in.
"""
from __future__ import annotations

import codecs
import http.client
import io
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from http import HTTPStatus
from urllib.parse import quote, urljoin, urlsplit

USER_AGENT = "Footfall-InstallCheck/1.0"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PRIVATE_REFUSED = "Private and loopback addresses cannot be checked."
NOT_HTTP = "Only http:// and https:// addresses can be checked."
_READ_CHUNK = 64 * 1024
# Characters kept as they are in a request target; everything else (spaces, non-ASCII, CR/LF) is
# percent-encoded, so a Location header or a typed address cannot inject into the request line.
_TARGET_SAFE = "/%:@!$&'()*+,;=?"
_EMBED_PATH = re.compile(r"(?:^|/)t/([A-Za-z0-9_-]+)\.js$")
# Start tags a browser keeps inside <head>; any other start tag begins the body and closes the head.
_HEAD_TAGS = frozenset({"html", "head", "base", "basefont", "bgsound", "link", "meta", "noscript",
                        "script", "style", "template", "title"})
# With scripting on, browsers treat what is inside these as text or inert content, so an <img> in
# a tracking pixel's <noscript> does not close the head.
_INERT_TAGS = frozenset({"noscript", "template"})


@dataclass(frozen=True)
class InstallCheckResult:
    # found_in_head, found_outside_head, other_key, not_found or unreachable; in first-party mode
    # also proxy_broken (app/tracking/proxy_check.py)
    outcome: str
    message: str  # a sentence for the marketer
    final_url: str  # the URL fetched last (after redirects), or the original


class Unreachable(Exception):
    """The page cannot be checked; the message is shown to the marketer as is."""


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    location: str | None  # absolute, when the answer is a redirect to follow
    charset: str | None
    body: bytes
    truncated: bool
    headers: http.client.HTTPMessage | None = None


def check_installation(website_url: str, site_key: str, *, allow_private: bool = False, timeout: float = 5.0,
                       max_bytes: int = 2 * 1024 * 1024, max_redirects: int = 3) -> InstallCheckResult:
    """Fetch `website_url` and report whether the embed code for `site_key` is installed.

    Never raises for network or parse problems: those are reported as "unreachable"."""
    deadline = time.monotonic() + timeout
    url = (website_url or "").strip()
    try:
        for redirects in range(max_redirects + 1):
            answer = fetch(url, allow_private=allow_private, deadline=deadline, max_bytes=max_bytes)
            if answer.location is None:
                break
            if redirects == max_redirects:
                raise Unreachable(f"Too many redirects (more than {max_redirects}).")
            url = answer.location
        if not 200 <= answer.status < 300:
            raise Unreachable(f"The page answered {answer.status} {answer.reason}.")
        html = answer.body.decode(_codec(answer.charset), errors="replace")
        try:
            codes = _EmbedCodeFinder.scan(html)
        except Exception as exc:  # html.parser has raised AssertionError on some malformed markup
            raise Unreachable(f"The page's HTML could not be read: {exc}.") from exc
        return _classify(codes, site_key, url, truncated=answer.truncated, max_bytes=max_bytes)
    except Unreachable as exc:
        message = str(exc)
    except TimeoutError:
        message = f"The page did not answer within {timeout:g} second{'' if timeout == 1 else 's'}."
    except ssl.SSLCertVerificationError as exc:
        message = f"The site's security certificate could not be verified: {exc.verify_message}."
    except socket.gaierror as exc:
        message = f"Could not find the website's address: {exc.strerror}."
    except (OSError, http.client.HTTPException, ValueError) as exc:
        message = f"Could not connect: {str(exc) or type(exc).__name__}."
    return InstallCheckResult("unreachable", message, url)


def private_allowed(config) -> bool:
    """Whether requests the app makes on a user's behalf (the install check, webhook calls) may
    reach private and loopback addresses: never in production, where they would reach the
    instance's own network; in development, where the websites and receivers are local."""
    return config["FOOTFALL_ENV"] != "production"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public_address(ip: str) -> bool:
    """Whether the install check may connect to this IP address: a global unicast one."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local or address.teredo is not None:
            return False  # fec0::/10 (deprecated, private in practice); Teredo tunnels to any IPv4
        # ::ffff:127.0.0.1 reaches 127.0.0.1, and so may 2002:7f00:1::/48 (6to4) or 64:ff9b::7f00:1
        # (NAT64): judge the IPv4 address each carries.
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and address in _NAT64:
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            address = carried
    if (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified):
        return False
    return address.is_global  # also excludes shared address space (100.64.0.0/10), not "private"


def _resolve(host: str, port: int) -> list[str]:
    """The IP addresses of `host`, in the resolver's order; the one place names are resolved."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def fetch(url: str, *, allow_private: bool, deadline: float, max_bytes: int, method: str = "GET",
          body: bytes | None = None, headers: dict | None = None) -> _Answer:
    """One request, without following redirects."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Unreachable(NOT_HTTP)
    host = parts.hostname
    if not host:
        raise Unreachable("The address has no host name.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Unreachable("The address has an invalid port number.") from None
    addresses = _resolve(host, port)
    if not addresses:
        raise Unreachable(f"Could not find the address of {host}.")
    # Every address must be public, not just the first: the connection may fall back to any.
    if not allow_private and not all(is_public_address(address) for address in addresses):
        raise Unreachable(PRIVATE_REFUSED)
    tls = ssl.create_default_context() if scheme == "https" else None
    target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_TARGET_SAFE)
    connection = _PinnedConnection(host, port, addresses, deadline, tls)
    try:
        connection.request(method, target, body=body, headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            "Connection": "close",
            **(headers or {}),
        })
        response = connection.getresponse()
        reason = (response.reason or _standard_reason(response.status)).strip()[:100]
        location = response.getheader("Location")
        if response.status in REDIRECT_STATUSES and location:
            return _Answer(response.status, reason, urljoin(url, location.strip()), None, b"", False)
        if not 200 <= response.status < 300:
            return _Answer(response.status, reason, None, None, b"", False, response.headers)
        content = _read_capped(response, max_bytes)
        return _Answer(response.status, reason, None, response.headers.get_content_charset(), content,
                       len(content) >= max_bytes, response.headers)
    finally:
        connection.close()


def _read_capped(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    # read1 makes at most one read from the socket, so the deadline is checked between reads;
    # read(n) would block until it had n bytes, however slowly they arrive.
    chunks: list[bytes] = []
    size = 0
    while size < max_bytes:
        chunk = response.read1(min(_READ_CHUNK, max_bytes - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _standard_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _codec(charset: str | None) -> str:
    if charset:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            pass
    return "utf-8"


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP or HTTPS connection to addresses validated beforehand.

    Connecting to them, rather than letting http.client resolve the name again, is what defeats
    DNS rebinding: a second lookup could answer with a private address. The Host header, SNI and
    certificate check still use the host name."""

    def __init__(self, host: str, port: int, addresses: list[str], deadline: float,
                 tls: ssl.SSLContext | None):
        super().__init__(host, port)
        self.default_port = 443 if tls else 80  # the Host header omits the default port
        self._addresses = addresses
        self._deadline = deadline
        self._tls = tls

    def connect(self) -> None:
        sock = self._open_socket()
        try:
            if self._tls is not None:
                sock.settimeout(_remaining(self._deadline))  # bounds the whole handshake
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = _DeadlineSocket(sock, self._deadline)

    def _open_socket(self) -> socket.socket:
        error = OSError("no address to connect to")
        for address in self._addresses:  # in the resolver's order, as socket.create_connection does
            try:
                return socket.create_connection((address, self.port), timeout=_remaining(self._deadline))
            except OSError as exc:
                error = exc
        raise error


class _DeadlineSocket:
    """A connected socket whose every send and receive shares one deadline.

    A timeout per socket operation alone would let a server that drips a byte at a time hold the
    check open indefinitely. Offers just what http.client uses: sendall, makefile and close. Like
    socket.socket, it stays open until the reader made by makefile is closed too, because
    http.client closes the connection's socket while the response is still being read."""

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock = sock
        self._deadline = deadline
        self._open_readers = 0
        self._closed = False

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_remaining(self._deadline))  # a timeout bounds the whole sendall
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        self._open_readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def reader_closed(self) -> None:
        self._open_readers -= 1
        self._close_when_unused()

    def close(self) -> None:
        self._closed = True
        self._close_when_unused()

    def _close_when_unused(self) -> None:
        if self._closed and not self._open_readers:
            self._sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket):
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.reader_closed()
        super().close()


@dataclass(frozen=True)
class _EmbedCodes:
    keys_in_head: list[str]
    keys_outside_head: list[str]


class _EmbedCodeFinder(HTMLParser):
    """Finds `<script src=".../t/<key>.js">` tags and whether each is inside the <head>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._in_head = True  # a script before any <head> tag still ends up in the head
        self._inert_depth = 0
        self._codes = _EmbedCodes([], [])

    @classmethod
    def scan(cls, html: str) -> _EmbedCodes:
        finder = cls()
        finder.feed(html)
        finder.close()
        return finder._codes

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            key = _embed_key(dict(attrs).get("src"))
            if key is not None:
                (self._codes.keys_in_head if self._in_head else self._codes.keys_outside_head).append(key)
        if not self._in_head:
            return
        if tag in _INERT_TAGS:
            self._inert_depth += 1
        elif tag == "body" or (tag not in _HEAD_TAGS and not self._inert_depth):
            # Browsers close the head implicitly when body content starts.
            self._in_head = False

    def handle_endtag(self, tag: str) -> None:
        if not self._in_head:
            return
        if tag in _INERT_TAGS and self._inert_depth:
            self._inert_depth -= 1
        elif tag == "head":
            self._in_head = False


def _embed_key(src: str | None) -> str | None:
    if not src:
        return None
    try:
        path = urlsplit(src.strip()).path
    except ValueError:
        return None
    match = _EMBED_PATH.search(path)
    return match.group(1) if match else None


def _classify(codes: _EmbedCodes, site_key: str, url: str, *, truncated: bool,
              max_bytes: int) -> InstallCheckResult:
    if site_key in codes.keys_in_head:
        return InstallCheckResult("found_in_head", f"The tracking code is in the <head> of {url}.", url)
    if site_key in codes.keys_outside_head:
        return InstallCheckResult(
            "found_outside_head",
            f"The tracking code is on {url} but outside the <head>; move it just before </head>.", url)
    other_keys = codes.keys_in_head + codes.keys_outside_head
    if other_keys:
        return InstallCheckResult(
            "other_key",
            f"The page has a Footfall code for another site key ({other_keys[0][:6]}…); "
            "copy the code from this page again.", url)
    where = f"in the first {_size(max_bytes)} of {url}" if truncated else f"on {url}"
    return InstallCheckResult("not_found", f"The tracking code was not found {where}.", url)


def _size(n_bytes: int) -> str:
    megabytes, rest = divmod(n_bytes, 1024 * 1024)
    return f"{megabytes} MB" if megabytes and not rest else f"{n_bytes:,} bytes"
