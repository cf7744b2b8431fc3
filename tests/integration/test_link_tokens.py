"""Click and unsubscribe links reveal nothing: a forwarded message shows no account, campaign or
contact id and no destination; links sent before they were encrypted keep working."""
import base64
from urllib.parse import urlsplit

from sqlalchemy import select

from app.extensions import db
from app.messaging.clicks import CLICKS
from app.messaging.rendering import Message, Renderer
from app.messaging.tokens import sign
from app.models import Campaign, Contact, LinkClick
from app.models.types import utcnow
from app.queues import get_redis
from tests.integration.test_campaigns import BODY

DESTINATION = "https://www.shop.example/pricing?plan=pro"


def sent_campaign(site) -> Campaign:
    campaign = Campaign(account_id=site.account_id, channel="email", name="c", subject="s", body=BODY,
                        status="sent", started_at=utcnow())
    db.session.add(campaign)
    db.session.commit()
    return campaign


def token_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_a_click_token_shows_neither_ids_nor_destination(site, contact, client):
    campaign = sent_campaign(site)
    email = Renderer(Message.of_campaign(campaign), "https://footfall.test").email(contact, email_id=4242)
    links = [href for href in email["html_body"].split('href="')[1:]
             if href.startswith("https://footfall.test/c/")]
    assert links
    for link in links:
        token = token_of(link.split('"', 1)[0])
        raw = decoded(token)
        assert b"shop.example" not in raw and b"pricing" not in raw and b"4242" not in raw
        assert b"email" not in raw and b"footfall" not in raw  # no readable payload at all
        assert "." not in token  # not a signed (readable) token


def test_the_encrypted_click_link_redirects_and_records_who_clicked(site, contact, client):
    campaign = sent_campaign(site)
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    link = renderer.link(DESTINATION, contact, "email", email_id=None)
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302 and response.headers["Location"].startswith(DESTINATION + "&cid=")
    CLICKS.drain(get_redis())
    db.session.rollback()
    click = db.session.scalar(select(LinkClick))
    assert (click.contact_id, click.campaign_id, click.url.split("&cid=")[0]) == (contact.id, campaign.id,
                                                                                  DESTINATION)


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
    url = Renderer(Message.of_campaign(campaign), "https://footfall.test").unsubscribe_url(contact, "email")
    assert b"email" not in decoded(token_of(url)) and "." not in token_of(url)
    legacy = sign("unsubscribe", [site.account_id, contact.id, "email"])
    assert client.post(f"/u/{legacy}").status_code == 200
    db.session.rollback()
    assert db.session.get(Contact, contact.id).email_status == "unsubscribed"


def test_a_token_made_for_one_purpose_is_refused_as_another(site, contact, client):
    campaign = sent_campaign(site)
    renderer = Renderer(Message.of_campaign(campaign), "https://footfall.test")
    click = token_of(renderer.link(DESTINATION, contact, "email"))
    unsubscribe = token_of(renderer.unsubscribe_url(contact, "email"))
    assert client.post(f"/u/{click}").status_code == 404
    assert client.get(f"/c/{unsubscribe}").status_code == 404
    db.session.rollback()
    assert db.session.get(Contact, contact.id).email_status == "subscribed"


def test_a_campaign_that_was_never_sent_redirects_nobody_and_shows_no_web_version(site, contact, client):
    """Anyone who can sign up could otherwise make permanent redirects to any address, and host any
    page, on this instance's domain: a campaign's links and web version work once it is sent."""
    from app.messaging.rendering import permanent_url

    draft = Campaign(account_id=site.account_id, channel="email", name="c", subject="s", body=BODY)
    db.session.add(draft)
    db.session.commit()
    renderer = Renderer(Message.of_campaign(draft), "https://footfall.test")
    link = renderer.link("https://evil.example/login", contact, "email")
    web_view = urlsplit(permanent_url(draft.id, "https://footfall.test")).path
    assert client.get(urlsplit(link).path).status_code == 404
    assert client.get(web_view).status_code == 404
    draft.status, draft.started_at = "sending", utcnow()
    db.session.commit()
    assert client.get(urlsplit(link).path).status_code == 302
    assert client.get(web_view).status_code == 200


def test_a_test_sends_links_redirect_for_a_week_and_it_has_no_web_version(auth, site, contact, client,
                                                                          run_jobs):
    import time

    from app.messaging.tokens import Click, click_token, read_click_token
    from app.models import Email

    from tests.integration.test_campaigns import draft

    campaign_id, data = draft(auth, site, [])
    assert auth.client.post(f"/campaigns/{campaign_id}/test", data=data).status_code == 200
    test_email = db.session.scalar(select(Email).where(Email.kind == "campaign_test"))
    path = urlsplit(test_email.html_body.split('href="')[1].split('"')[0]).path
    assert path.startswith("/c/") and "/m/" not in test_email.html_body
    assert client.get(path).status_code == 302
    link = read_click_token(path.rsplit("/", 1)[1])
    assert 6 * 86400 < link.expires - time.time() <= 7 * 86400
    expired = click_token(Click(link.account_id, link.campaign_id, link.contact_id, link.channel,
                                link.destination, None, int(time.time()) - 1))
    assert client.get(f"/c/{expired}").status_code == 404
