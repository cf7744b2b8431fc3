"""SMS campaigns: subscribed contacts with a phone, links tagged then shortened, opt-out link."""
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from app.extensions import db
from app.models import Campaign, Contact, SmsMessage
from app.tracking.cid import read_cid
from tests.conftest import HX, make_contact
from tests.integration.test_campaigns import make_list


def test_an_sms_campaign_with_short_tagged_links(auth, site, client, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example", phone="+14155550101")
    bob = make_contact(site.account_id, "bob@customer.example", phone="+14155550102",
                       sms_status="unsubscribed")
    cy = make_contact(site.account_id, "cy@customer.example")  # no phone
    item = make_list(site.account_id, "Texts", [ada, bob, cy])
    campaign_id = int(auth.client.post("/campaigns/", data={"channel": "sms"}).headers["Location"]
                      .rsplit("/", 1)[1])
    data = {"name": "Flash sale", "body": "Sale ends tonight: https://www.shop.example/sale?x=1.",
            "list_ids": [str(item.id)], "tag_links": "1", "when": "now"}
    assert auth.client.post(f"/campaigns/{campaign_id}/send", data=data, headers=HX).status_code == 204
    run_jobs()
    messages = list(db.session.scalars(select(SmsMessage)))
    assert [(m.to_number, m.status) for m in messages] == [("+14155550101", "outbox")]
    body = messages[0].body
    short = re.findall(r"https://footfall\.test/s/[A-Za-z0-9]{8}", body)
    assert body.startswith("Sale ends tonight: https://footfall.test/s/") and ". \n" not in body
    assert len(short) == 2 and body.rstrip().endswith(short[1])  # the link, then the opt-out link
    first = client.get(urlsplit(short[0]).path)
    assert first.status_code == 302 and "/c/" in first.headers["Location"]
    landing = client.get(urlsplit(first.headers["Location"]).path).headers["Location"]
    assert landing.startswith("https://www.shop.example/sale?x=1&cid=")
    claims = read_cid(parse_qs(urlsplit(landing).query)["cid"][0])
    assert (claims.contact_id, claims.channel) == (ada.id, "sms")
    stop = client.get(urlsplit(short[1]).path)
    assert "/u/" in stop.headers["Location"]
    client.post(urlsplit(stop.headers["Location"]).path)
    db.session.rollback()
    assert db.session.get(Contact, ada.id).sms_status == "unsubscribed"
    assert db.session.get(Campaign, campaign_id).status == "sent"


def test_the_live_length_count(auth):
    body = auth.client.post("/campaigns/sms-length", data={"body": "x" * 161},
                            headers=HX).get_data(as_text=True)
    assert "161 characters (GSM-7), 2 segments" in body
    body = auth.client.post("/campaigns/sms-length", data={"body": "Hi 👋"},
                            headers=HX).get_data(as_text=True)
    assert "(UCS-2), 1 segment" in body
