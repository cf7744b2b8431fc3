"""Click and unsubscribe links reveal nothing: a forwarded message shows no account, campaign or
contact id and no destination; links sent before they were encrypted keep working."""
import base64
from urllib.parse import urlsplit

from sqlalchemy import select

from app.extensions import db
from app.messaging.campaigns import Renderer
from app.messaging.clicks import CLICKS
from app.messaging.tokens import sign
from app.models import Campaign, Contact, LinkClick
from app.queues import get_redis
from tests.integration.test_campaigns import BODY

DESTINATION = "https://www.shop.example/pricing?plan=pro"


def sent_campaign(site) -> Campaign:
    campaign = Campaign(account_id=site.account_id, channel="email", name="c", subject="s", body=BODY, status="sent")
    db.session.add(campaign)
    db.session.commit()
    return campaign


def token_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_a_click_token_shows_neither_ids_nor_destination(site, contact, client):
    campaign = sent_campaign(site)
    email = Renderer(campaign, "https://footfall.test").email(contact, email_id=4242)
    links = [href for href in email["html_body"].split('href="')[1:] if href.startswith("https://footfall.test/c/")]
    assert links
    for link in links:
        token = token_of(link.split('"', 1)[0])
        raw = decoded(token)
        assert b"shop.example" not in raw and b"pricing" not in raw and b"4242" not in raw
        assert b"email" not in raw and b"footfall" not in raw  # no readable payload at all
        assert "." not in token  # not a signed (readable) token


def test_the_encrypted_click_link_redirects_and_records_who_clicked(site, contact, client):
    campaign = sent_campaign(site)
    link = Renderer(campaign, "https://footfall.test").link(DESTINATION, contact, "email", email_id=None)
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302 and response.headers["Location"].startswith(DESTINATION + "&cid=")
    CLICKS.drain(get_redis())
    db.session.rollback()
    click = db.session.scalar(select(LinkClick))
    assert (click.contact_id, click.campaign_id, click.url.split("&cid=")[0]) == (contact.id, campaign.id, DESTINATION)


def test_click_links_sent_before_encryption_still_work(site, contact, client):
    campaign = sent_campaign(site)
    legacy = sign("click", [site.account_id, campaign.id, contact.id, "email", DESTINATION])
    assert "." in legacy
    response = client.get(f"/c/{legacy}")
    assert response.status_code == 302 and response.headers["Location"] == DESTINATION
    CLICKS.drain(get_redis())
    db.session.rollback()
    assert db.session.scalar(select(LinkClick.contact_id)) == contact.id


def test_an_unsubscribe_token_is_opaque_and_links_sent_before_still_unsubscribe(site, contact, client):
    campaign = sent_campaign(site)
    url = Renderer(campaign, "https://footfall.test").unsubscribe_url(contact, "email")
    assert b"email" not in decoded(token_of(url)) and "." not in token_of(url)
    legacy = sign("unsubscribe", [site.account_id, contact.id, "email"])
    assert client.post(f"/u/{legacy}").status_code == 200
    db.session.rollback()
    assert db.session.get(Contact, contact.id).email_status == "unsubscribed"


def test_a_token_made_for_one_purpose_is_refused_as_another(site, contact, client):
    campaign = sent_campaign(site)
    renderer = Renderer(campaign, "https://footfall.test")
    click = token_of(renderer.link(DESTINATION, contact, "email"))
    unsubscribe = token_of(renderer.unsubscribe_url(contact, "email"))
    assert client.post(f"/u/{click}").status_code == 404
    assert client.get(f"/c/{unsubscribe}").status_code == 404
    db.session.rollback()
    assert db.session.get(Contact, contact.id).email_status == "subscribed"
