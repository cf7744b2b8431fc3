"""Check installation against a real local web server, and its refusal of private addresses."""
from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.tracking import install_check
from app.tracking.install_check import PRIVATE_REFUSED, USER_AGENT, check_installation, is_public_address

KEY = "AbCdEf0123_-xyZ9"
OTHER_KEY = "Zz9otherKey-_123"


def code(key: str = KEY) -> str:
    return f'<script async src="https://footfall.example/t/{key}.js"></script>'


def page(head: str = "", body: str = "") -> str:
    return (f"<!doctype html><html><head><title>Shop</title>{head}</head>"
            f"<body><h1>Shop</h1>{body}</body></html>")


HUGE_FILLER = "<p>" + "x" * (3 * 1024 * 1024) + "</p>"
REDIRECTS = {"/redirect-to-private": "http://169.254.169.254/latest/meta-data/",
             "/redirect-to-ftp": "ftp://example.com/"}
PAGES: dict[str, tuple[str, bytes]] = {
    "/in-head": ("text/html; charset=utf-8", page(head=code()).encode()),
    "/in-body": ("text/html; charset=utf-8", page(body=code()).encode()),
    "/other-key": ("text/html; charset=utf-8", page(head=code(OTHER_KEY)).encode()),
    "/no-code": ("text/html; charset=utf-8", page().encode()),
    "/huge": ("text/html", page(body=HUGE_FILLER + code()).encode()),
    "/huge-code-first": ("text/html", page(head=code(), body=HUGE_FILLER).encode()),
    "/utf-16": ("text/html; charset=utf-16", page(head=code()).encode("utf-16")),
    "/unknown-charset": ("text/html; charset=x-no-such-charset", page(head=code()).encode()),
}


class Handler(BaseHTTPRequestHandler):
    server: "SiteServer"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))
        if self.path.startswith("/redirect/"):
            hops = int(self.path.rsplit("/", 1)[1])
            self._redirect(f"/redirect/{hops - 1}" if hops > 1 else "/in-head")
        elif self.path in REDIRECTS:
            self._redirect(REDIRECTS[self.path])
        elif self.path in PAGES:
            content_type, body = PAGES[self.path]
            self._send(content_type, body)
        elif self.path.startswith("/test-case/"):
            self._send("text/html", self.server.test_case_html.encode())
        elif self.path == "/slow":
            time.sleep(2)
            self._send("text/html", page(head=code()).encode())
        elif self.path == "/drip":
            self._drip()
        elif self.path.startswith("/echo"):
            self._send("text/html", page().encode())
        else:
            self.send_error(404)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, content_type: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the check stops reading at its size cap and hangs up

    def _drip(self) -> None:
        """Answers at once, then sends the body a byte at a time, never long silent."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(60):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.test_case_html = ""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    site = SiteServer()
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site
    site.shutdown()
    site.server_close()


def self_signed_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[SiteServer, Path, list[str]]]:
    """An HTTPS server whose certificate names public.test, and the server names clients asked for."""
    cert_path, key_path = self_signed_certificate(tmp_path_factory.mktemp("tls"), "public.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server_names: list[str] = []
    context.sni_callback = lambda connection, name, _context: server_names.append(name)
    site = SiteServer()
    site.socket = context.wrap_socket(site.socket, server_side=True)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site, cert_path, server_names
    site.shutdown()
    site.server_close()


@pytest.fixture
def base(server: SiteServer) -> str:
    server.requests.clear()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every address the check connects to, while still really connecting."""
    made: list[tuple[str, int]] = []
    real_create_connection = socket.create_connection

    def recording_create_connection(address, *args, **kwargs):
        made.append(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording_create_connection)
    return made


@pytest.fixture
def public_test_host(monkeypatch) -> None:
    """Makes names under .test resolve to 127.0.0.1 and that one address count as public, so the
    local server stands in for a website on the internet; everything else is judged as usual."""
    real_resolve, real_is_public = install_check._resolve, install_check.is_public_address
    monkeypatch.setattr(install_check, "_resolve",
                        lambda host, port: ["127.0.0.1"] if host.endswith(".test")
                        else real_resolve(host, port))
    monkeypatch.setattr(install_check, "is_public_address",
                        lambda ip: ip == "127.0.0.1" or real_is_public(ip))


def check(url: str, **options) -> install_check.InstallCheckResult:
    return check_installation(url, KEY, allow_private=True, **options)


def test_code_in_the_head_is_found(base):
    result = check(f"{base}/in-head")
    assert result.outcome == "found_in_head"
    assert result.message == f"The tracking code is in the <head> of {base}/in-head."
    assert result.final_url == f"{base}/in-head"


def test_code_in_the_body_is_found_outside_the_head(base):
    result = check(f"{base}/in-body")
    assert result.outcome == "found_outside_head"
    assert "outside the <head>" in result.message


def test_a_code_for_another_site_key_is_named(base):
    result = check(f"{base}/other-key")
    assert result.outcome == "other_key"
    assert "another site key (Zz9oth…)" in result.message
    assert "copy the code from this page again" in result.message


def test_a_page_without_the_code(base):
    result = check(f"{base}/no-code")
    assert result.outcome == "not_found"
    assert result.message == f"The tracking code was not found on {base}/no-code."


def test_an_error_status_is_unreachable_with_the_status(base):
    result = check(f"{base}/missing")
    assert result == install_check.InstallCheckResult(
        "unreachable", "The page answered 404 Not Found.", f"{base}/missing")


@pytest.mark.parametrize("hops", [2, 3])
def test_up_to_three_redirects_are_followed(base, server, hops):
    result = check(f"{base}/redirect/{hops}")
    assert result.outcome == "found_in_head"
    assert result.final_url == f"{base}/in-head"
    assert len(server.requests) == hops + 1


def test_a_fourth_redirect_is_refused(base, server):
    result = check(f"{base}/redirect/4")
    assert result.outcome == "unreachable"
    assert result.message == "Too many redirects (more than 3)."
    assert result.final_url == f"{base}/redirect/1"
    assert [path for path, _ in server.requests] == ["/redirect/4", "/redirect/3", "/redirect/2",
                                                     "/redirect/1"]


def test_a_redirect_to_another_scheme_is_refused(base):
    result = check(f"{base}/redirect-to-ftp")
    assert result == install_check.InstallCheckResult(
        "unreachable", install_check.NOT_HTTP, "ftp://example.com/")


def test_a_slow_page_times_out(base):
    started = time.monotonic()
    result = check(f"{base}/slow", timeout=1.0)
    assert result.outcome == "unreachable"
    assert result.message == "The page did not answer within 1 second."
    assert time.monotonic() - started < 1.8


def test_the_deadline_covers_the_whole_fetch_not_each_read(base):
    # The server is never silent for long, so only an overall deadline can stop the check.
    started = time.monotonic()
    result = check(f"{base}/drip", timeout=1.0)
    assert result.outcome == "unreachable"
    assert "did not answer within 1 second." in result.message
    assert time.monotonic() - started < 1.5


def test_a_huge_page_is_read_up_to_the_cap(base):
    result = check(f"{base}/huge")
    assert result.outcome == "not_found"
    assert "in the first 2 MB of" in result.message


def test_a_huge_page_is_still_checked_within_the_cap(base):
    assert check(f"{base}/huge-code-first").outcome == "found_in_head"


def test_the_charset_of_the_page_is_used(base):
    assert check(f"{base}/utf-16").outcome == "found_in_head"


def test_an_unknown_charset_falls_back_to_utf8(base):
    assert check(f"{base}/unknown-charset").outcome == "found_in_head"


def test_the_request_identifies_itself_and_escapes_the_address(base, server):
    check(f"{base}/echo path/é?q=a b")
    [(path, headers)] = server.requests
    assert path == "/echo%20path/%C3%A9?q=a%20b"
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Host"] == base.removeprefix("http://")


def test_a_closed_port_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = check(f"http://127.0.0.1:{port}/")
    assert result.outcome == "unreachable"
    assert result.message.startswith("Could not connect: ")


@pytest.mark.parametrize(("html", "outcome"), [
    pytest.param(f"<html>{code()}<head><title>x</title></head><body></body></html>", "found_in_head",
                 id="before the head tag"),
    pytest.param(f"<!doctype html><title>x</title>{code()}<p>hello", "found_in_head", id="no head tags"),
    pytest.param(f"<html><head><title>x</title><div>banner</div>{code()}</head><body>", "found_outside_head",
                 id="after body content without </head>"),
    pytest.param(f"<html><head></head>{code()}<body></body></html>", "found_outside_head",
                 id="between </head> and <body>"),
    pytest.param(page(head='<noscript><img src="https://px.example/tr?id=1"></noscript>' + code()),
                 "found_in_head", id="after a noscript pixel in the head"),
    pytest.param(page(head=f"<SCRIPT SRC='//cdn.example/t/{KEY}.js?v=2' ASYNC></SCRIPT>"),
                 "found_in_head", id="uppercase, single quotes, query string"),
    pytest.param(page(head=f"<script type=text/javascript src=https://f.example/t/{KEY}.js async></script>"),
                 "found_in_head", id="unquoted attributes, src not first"),
    pytest.param(page(head=f'<script src="https://f.example/assets/t/{KEY}.js" />'),
                 "found_in_head", id="self-closing, under a path prefix"),
    pytest.param(page(head=f'<script src="https://f.example/t/{KEY}.js?a=1&amp;b=2"></script>'),
                 "found_in_head", id="escaped ampersand"),
    pytest.param(page(head=f"<!-- {code()} -->"), "not_found", id="commented out"),
    pytest.param(page(head=f'<script data-src="https://f.example/t/{KEY}.js"></script>'), "not_found",
                 id="not the src attribute"),
    pytest.param(page(head=f'<script src="https://f.example/tt/{KEY}.js"></script>'), "not_found",
                 id="another path"),
    pytest.param(page(head=f'<link rel="preload" href="https://f.example/t/{KEY}.js">'), "not_found",
                 id="not a script"),
    pytest.param(page(head=code(OTHER_KEY), body=code()), "found_outside_head",
                 id="this key wins over another"),
    pytest.param(page(head=code(), body=code()), "found_in_head", id="in the head and the body"),
    pytest.param("<html><head><![if !IE]><script src=\"", "not_found", id="broken markup"),
])
def test_where_the_code_is_on_the_page(base, server, html, outcome):
    server.test_case_html = html
    assert check(f"{base}/test-case/").outcome == outcome


def test_a_parser_failure_is_reported_not_raised(base, monkeypatch):
    def fail(*args):
        raise AssertionError("unexpected markup")

    monkeypatch.setattr(install_check._EmbedCodeFinder, "handle_starttag", fail)
    result = check(f"{base}/in-head")
    assert result == install_check.InstallCheckResult(
        "unreachable", "The page's HTML could not be read: unexpected markup.", f"{base}/in-head")


@pytest.mark.parametrize("url", ["ftp://example.com/", "javascript:alert(1)", "file:///etc/passwd",
                                 "example.com", ""])
def test_only_http_and_https_addresses_are_checked(url):
    assert check_installation(url, KEY) == install_check.InstallCheckResult("unreachable",
                                                                            install_check.NOT_HTTP, url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/", "http://localhost:{port}/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
                                 "http://10.0.0.1/", "https://[::ffff:127.0.0.1]/", "http://0.0.0.0:{port}/"])
def test_private_addresses_are_refused_without_connecting(server, connections, url):
    url = url.format(port=server.server_address[1])
    server.requests.clear()
    result = check_installation(url, KEY)
    assert result == install_check.InstallCheckResult("unreachable", PRIVATE_REFUSED, url)
    assert connections == []
    assert server.requests == []


def test_a_name_with_any_private_address_is_refused(monkeypatch, connections):
    # A rebinding name may answer with a public and a private address at once.
    monkeypatch.setattr(install_check, "_resolve", lambda host, port: ["93.184.215.14", "127.0.0.1"])
    result = check_installation("https://rebind.test/", KEY)
    assert (result.outcome, result.message) == ("unreachable", PRIVATE_REFUSED)
    assert connections == []


def test_the_validated_address_is_connected_to_with_the_sites_host_name(server, connections,
                                                                        public_test_host):
    port = server.server_address[1]
    server.requests.clear()
    result = check_installation(f"http://public.test:{port}/in-head", KEY)
    assert result.outcome == "found_in_head"
    assert connections == [("127.0.0.1", port)]
    assert server.requests[0][1]["Host"] == f"public.test:{port}"


def test_a_redirect_to_a_private_address_is_refused(server, connections, public_test_host):
    port = server.server_address[1]
    result = check_installation(f"http://public.test:{port}/redirect-to-private", KEY)
    assert result == install_check.InstallCheckResult(
        "unreachable", PRIVATE_REFUSED, "http://169.254.169.254/latest/meta-data/")
    assert connections == [("127.0.0.1", port)]


def test_https_verifies_the_certificate_of_the_host_name(monkeypatch, tls_server, connections,
                                                         public_test_host):
    server, cert_path, server_names = tls_server
    trusting = ssl.create_default_context(cafile=str(cert_path))
    monkeypatch.setattr(ssl, "create_default_context", lambda *args, **kwargs: trusting)
    port = server.server_address[1]
    server.requests.clear()
    result = check_installation(f"https://public.test:{port}/in-head", KEY)
    assert result.outcome == "found_in_head"
    assert connections == [("127.0.0.1", port)]
    assert server_names[-1] == "public.test"
    assert server.requests[0][1]["Host"] == f"public.test:{port}"


def test_https_refuses_a_certificate_for_another_name(monkeypatch, tls_server, public_test_host):
    server, cert_path, _ = tls_server
    trusting = ssl.create_default_context(cafile=str(cert_path))
    monkeypatch.setattr(ssl, "create_default_context", lambda *args, **kwargs: trusting)
    server.requests.clear()
    result = check_installation(f"https://other.test:{server.server_address[1]}/in-head", KEY)
    assert result.outcome == "unreachable"
    assert result.message.startswith("The site's security certificate could not be verified: ")
    assert "other.test" in result.message
    assert server.requests == []


def test_https_refuses_an_untrusted_certificate(tls_server, public_test_host):
    server, _, _ = tls_server
    result = check_installation(f"https://public.test:{server.server_address[1]}/in-head", KEY)
    assert result.outcome == "unreachable"
    assert "self-signed certificate" in result.message


@pytest.mark.parametrize(("ip", "public"), [
    ("93.184.215.14", True),
    ("8.8.8.8", True),
    ("2606:4700:4700::1111", True),
    ("::ffff:8.8.8.8", True),
    ("127.0.0.1", False),
    ("127.8.9.10", False),
    ("10.1.2.3", False),
    ("172.16.0.1", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),
    ("100.64.0.1", False),
    ("0.0.0.0", False),
    ("224.0.0.1", False),
    ("240.0.0.1", False),
    ("255.255.255.255", False),
    ("::1", False),
    ("::", False),
    ("fe80::1", False),
    ("fe80::1%eth0", False),
    ("fc00::1", False),
    ("fd12:3456::1", False),
    ("ff02::1", False),
    ("::ffff:127.0.0.1", False),
    ("::ffff:10.0.0.1", False),
    ("::ffff:169.254.169.254", False),
    ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254 (cloud metadata)
    ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
    ("fec0::1", False),  # site-local
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
    ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
    ("2606:4700:4700::1111", True),
    ("not an address", False),
])
def test_is_public_address(ip, public):
    assert is_public_address(ip) is public
