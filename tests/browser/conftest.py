"""Browser tests: Playwright driving Debian's Chromium against a live app server."""
import pytest

from app.demo import DemoWebsite
from app.extensions import db
from app.tracking import setup
from tests.support import free_port

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "permissions": ["clipboard-read", "clipboard-write"]}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True, "PUBLIC_URL": ""}


@pytest.fixture
def website(server, site, user):
    """A website on another port with the code in <head>, tracked by the user's account."""
    port = free_port()
    setup.change_website(site, user, f"http://127.0.0.1:{port}")
    db.session.commit()
    demo = DemoWebsite(setup.embed_code(site, server), port).start()
    yield demo, site
    demo.stop()
