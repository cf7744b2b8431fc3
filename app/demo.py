"""The demo of `make run`: an account, its contacts, and a small website with the embed code,
served on a second port (another origin), so a newcomer can click a tagged link and watch
page views arrive."""
from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app import accounts, contacts
from app.extensions import db
from app.messaging.links import tag_url
from app.tracking import setup
from app.tracking.cid import make_cid

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "footfall-demo"
DEMO_CONTACTS = [("ada@example.com", "Ada", "Lovelace"), ("grace@example.com", "Grace", "Hopper")]

PAGES = {
    "/": ("Demo Shop", "<p>Welcome to the demo shop. Browse around: every page you view is recorded.</p>"),
    "/pricing": ("Pricing · Demo Shop", "<p>Basic: 9 € a month. Pro: 29 € a month.</p>"),
    "/blog": ("Blog · Demo Shop", "<p>Five ways to grow your newsletter.</p>"),
    "/app": ("App · Demo Shop", "<p>A single-page app: these buttons change the address with pushState.</p>"
             '<button type="button" data-go="/app/inbox">Inbox</button> '
             '<button type="button" data-go="/app/settings">Settings</button> '
             '<button type="button" data-go="/app/reports">Reports</button>'
             "<script>document.addEventListener('click', function (e) {"
             " var to = e.target.getAttribute('data-go'); if (to) history.pushState({}, '', to); });</script>"),
}


def ensure_demo_account(website_url: str | None = None):
    """The demo user, created on first run; with a website, its tracking and contacts too."""
    user = accounts.find_user(DEMO_EMAIL) or accounts.register(DEMO_EMAIL, DEMO_PASSWORD, "Demo Shop")
    db.session.flush()
    if website_url:
        site = setup.get_site(user.account_id)
        if site is None:
            site = setup.activate(user, website_url, terms_accepted=True)
            setup.advance_wizard(site, to_step=None)
        else:
            setup.change_website(site, user, website_url)
        for email, first, last in DEMO_CONTACTS:
            if contacts.find_by_email(user.account_id, email) is None:
                contacts.add_contact(user.account_id, email, first, last)
        db.session.flush()
        ensure_welcome_campaign(user, website_url)
    db.session.commit()
    return user


def ensure_welcome_campaign(user, website_url: str) -> None:
    """The list of demo contacts and a ready "Welcome" email linking to the demo website."""
    from sqlalchemy import select

    from app.models import Campaign, ContactList

    customers = db.session.scalar(select(ContactList).where(ContactList.account_id == user.account_id,
                                                            ContactList.name == "Customers"))
    if customers is None:
        customers = ContactList(account_id=user.account_id, name="Customers")
        db.session.add(customers)
        members = [contacts.find_by_email(user.account_id, email) for email, _, _ in DEMO_CONTACTS]
        for member in members:
            member.lists.append(customers)
    welcome = db.session.scalar(select(Campaign).where(Campaign.account_id == user.account_id,
                                                       Campaign.name == "Welcome"))
    if welcome is None:
        welcome = Campaign(account_id=user.account_id, created_by_id=user.id, channel="email", name="Welcome",
                           subject="Welcome to the Demo Shop", from_name="Demo Shop", lists=[customers],
                           status="draft")
        db.session.add(welcome)
    if welcome.status == "draft":
        welcome.body = WELCOME_BODY.replace("WEBSITE", website_url)


WELCOME_BODY = """<h1>Welcome!</h1>
<p>Thanks for joining the Demo Shop. Have a look at <a href="WEBSITE/pricing">our prices</a>
or read <a href="WEBSITE/blog">the blog</a>.</p>
<p>Every link above carries your own <code>cid</code>: click one, and your visit appears on your
contact page in Footfall.</p>"""


def demo_link(user, website_url: str, email: str = DEMO_CONTACTS[0][0]) -> str:
    contact = contacts.find_by_email(user.account_id, email)
    return tag_url(website_url + "/pricing?utm_source=demo", make_cid(user.account_id, contact.id, channel="test"))


def render_page(path: str, embed_code: str) -> str | None:
    """A page of the demo website with the embed code right before </head>, or None."""
    page = PAGES.get(path.rstrip("/") or "/") or (PAGES["/app"] if path.startswith("/app/") else None)
    if page is None:
        return None
    title, body = page
    links = " · ".join(f'<a href="{href}">{html.escape(PAGES[href][0].split(" · ")[0])}</a>' for href in PAGES)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>\n"
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
