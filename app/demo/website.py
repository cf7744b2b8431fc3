"""The demo website: a few pages of a made-up shop (one a single-page app that changes its address
with pushState), each with the account's embed code right before </head>, served from a thread on
its own port, so that it is another origin than the app's.
"""
from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGES = {
    "/": ("Demo Shop", "<p>Welcome to the demo shop. Browse around: every page you view is recorded.</p>"),
    "/pricing": ("Pricing · Demo Shop", "<p>Basic: 9 € a month. Pro: 29 € a month.</p>"),
    "/blog": ("Blog · Demo Shop", "<p>Five ways to grow your newsletter.</p>"),
    "/app": ("App · Demo Shop", "<p>A single-page app: these buttons change the address with pushState.</p>"
             '<button type="button" data-go="/app/inbox">Inbox</button> '
             '<button type="button" data-go="/app/settings">Settings</button> '
             '<button type="button" data-go="/app/reports">Reports</button>'
             "<script>document.addEventListener('click', function (e) {"
             " var to = e.target.getAttribute('data-go');"
             " if (to) history.pushState({}, '', to); });</script>"),
}


def title_of(url: str) -> str:
    path = "/" + url.split("://", 1)[1].partition("/")[2].partition("?")[0]
    return (PAGES.get(path.rstrip("/") or "/") or PAGES["/app"])[0]


def render_page(path: str, embed_code: str) -> str | None:
    """A page of the demo website with the embed code right before </head>, or None."""
    page = PAGES.get(path.rstrip("/") or "/") or (PAGES["/app"] if path.startswith("/app/") else None)
    if page is None:
        return None
    title, body = page
    links = " · ".join(f'<a href="{href}">{html.escape(PAGES[href][0].split(" · ")[0])}</a>'
                       for href in PAGES)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>\n"
            f"{embed_code}\n</head><body><nav>{links}</nav><h1>{html.escape(title)}</h1>{body}</body></html>")


class DemoWebsite:
    """The demo website, served from a thread."""

    def __init__(self, embed_code: str, port: int, host: str = "127.0.0.1"):
        code = embed_code

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                page = render_page(self.path.split("?", 1)[0], code)
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((page or "<h1>Not found</h1>").encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "DemoWebsite":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
