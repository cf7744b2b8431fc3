"""The demo of `make run`: account, tracked demo website, contacts, and a ready Welcome email."""
from sqlalchemy import select

from app.demo import DEMO_EMAIL, DemoWebsite, demo_link, ensure_demo_account, render_page
from app.extensions import db
from app.models import Campaign, Contact
from app.tracking import setup
from app.tracking.cid import read_cid


def test_the_demo_account_tracks_the_demo_website_and_is_idempotent(app):
    user = ensure_demo_account("http://127.0.0.1:5001")
    ensure_demo_account("http://127.0.0.1:5002")  # a second run on another port
    site = setup.get_site(user.account_id)
    assert user.email == DEMO_EMAIL and site.website_url == "http://127.0.0.1:5002" and site.enabled
    assert sorted(db.session.scalars(select(Contact.email))) == ["ada@example.com", "grace@example.com"]
    welcome = db.session.scalar(select(Campaign).where(Campaign.name == "Welcome"))
    assert [item.name for item in welcome.lists] == ["Customers"]
    assert 'href="http://127.0.0.1:5002/pricing"' in welcome.body and welcome.status == "draft"
    claims = read_cid(demo_link(user, site.website_url).split("cid=")[1])
    assert claims.account_id == user.account_id


def test_demo_pages_carry_the_embed_code_in_head():
    page = render_page("/pricing", '<script async src="http://x/t/k.js"></script>')
    assert page.index('<script async src="http://x/t/k.js"></script>') < page.index("</head>")
    assert render_page("/nope", "") is None
    website = DemoWebsite("", 0).start()
    try:
        import urllib.request
        assert b"Demo Shop" in urllib.request.urlopen(website.url + "/", timeout=5).read()
    finally:
        website.stop()
