"""The segment builder over HTTP: actions, live preview, save with validation, list operations."""
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Campaign, ContactList, Segment, SegmentMembershipChange, campaign_segments
from tests.conftest import HX, make_contact
from tests.integration.test_tracking_setup import add_page_view


def form(name="Pricing fans", **overrides):
    data = {"name": name, "join": "and", "groups-0-match": "all",
            "groups-0-rules-0-type": "visit", "groups-0-rules-0-negate": "0",
            "groups-0-rules-0-op": "contains",
            "groups-0-rules-0-value": "/pricing", "groups-0-rules-0-count_op": "at_least",
            "groups-0-rules-0-count": "2", "groups-0-rules-0-window": "last_days",
            "groups-0-rules-0-days": "14"}
    data.update(overrides)
    return data


def test_builder_actions_add_and_remove_rules_and_groups(auth, site):
    added = auth.client.post("/segments/builder", data={**form(), "action": "add_rule:0"},
                             headers=HX).get_data(as_text=True)
    assert 'name="groups-0-rules-1-type"' in added and 'value="/pricing"' in added
    grouped = auth.client.post("/segments/builder", data={**form(), "action": "add_group"},
                               headers=HX).get_data(as_text=True)
    assert 'name="groups-1-match"' in grouped and 'name="join"' in grouped
    typed = auth.client.post("/segments/builder", data={**form(**{"groups-0-rules-0-type": "subscription"})},
                             headers=HX).get_data(as_text=True)
    assert 'name="groups-0-rules-0-channel"' in typed and 'groups-0-rules-0-count_op' not in typed
    removed = auth.client.post("/segments/builder", data={**form(), "action": "remove_rule:0:0"},
                               headers=HX).get_data(as_text=True)
    assert 'name="groups-0-rules-0-type"' in removed  # never empty: a fresh rule takes its place


def test_live_preview_counts_and_summarises(auth, site):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada")
    make_contact(site.account_id, "bob@customer.example")
    for _ in range(2):
        add_page_view(site, path="/pricing", contact_id=ada.id, age=timedelta(days=1))
    body = auth.client.post("/segments/preview", data=form(), headers=HX).get_data(as_text=True)
    assert '<strong class="count">1</strong> matching contact' in body and "ada@customer.example" in body
    assert ("Contacts who viewed a page whose URL contains /pricing at least 2 times in the last 14 days"
            in body)
    incomplete = auth.client.post("/segments/preview", data=form(**{"groups-0-rules-0-value": ""}),
                                  headers=HX)
    assert "Complete the rules" in incomplete.get_data(as_text=True)


def test_save_validates_then_members_are_evaluated_by_a_job(auth, site, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example")
    for _ in range(3):
        add_page_view(site, path="/pricing", contact_id=ada.id)
    bad = auth.client.post("/segments/", data=form(**{"groups-0-rules-0-days": "-5"}), headers=HX)
    assert bad.status_code == 422 and "between 1 and 3,650" in bad.get_data(as_text=True)
    assert db.session.scalar(select(Segment)) is None
    ok = auth.client.post("/segments/", data=form(), headers=HX)
    assert ok.status_code == 204 and ok.headers["HX-Redirect"] == "/segments/"
    run_jobs()
    segment = db.session.scalar(select(Segment))
    assert segment.member_count == 1 and segment.evaluated_at is not None
    assert [c.change for c in db.session.scalars(select(SegmentMembershipChange))] == ["joined"]
    listing = auth.client.get("/segments/").get_data(as_text=True)
    assert "Pricing fans" in listing


def test_a_crafted_request_with_51_rules_is_refused(auth, site):
    data = form()
    for r in range(1, 51):
        data.update({f"groups-0-rules-{r}-{k[len('groups-0-rules-0-'):]}": v for k, v in form().items()
                     if k.startswith("groups-0-rules-0-")})
    response = auth.client.post("/segments/", data=data, headers=HX)
    assert response.status_code == 422 and "at most 50 rules" in response.get_data(as_text=True)


def test_duplicate_rename_delete_and_in_use(auth, site, run_jobs):
    auth.client.post("/segments/", data=form())
    segment = db.session.scalar(select(Segment))
    auth.client.post(f"/segments/{segment.id}/duplicate")
    auth.client.post(f"/segments/{segment.id}/rename", data={"name": "Hot leads"})
    db.session.rollback()
    assert sorted(db.session.scalars(select(Segment.name))) == ["Hot leads", "Pricing fans (copy)"]
    campaign = Campaign(account_id=site.account_id, name="Offer", subject="s", body="b", status="scheduled")
    db.session.add(campaign)
    db.session.flush()
    db.session.execute(campaign_segments.insert().values(campaign_id=campaign.id, segment_id=segment.id))
    db.session.commit()
    refused = auth.client.post(f"/segments/{segment.id}/delete")
    assert refused.status_code == 409 and "in use by campaign “Offer”" in refused.get_data(as_text=True)
    campaign.status = "sent"
    db.session.commit()
    segment_id = segment.id
    assert auth.client.post(f"/segments/{segment_id}/delete").status_code == 302
    db.session.rollback()
    assert db.session.get(Segment, segment_id) is None


def test_segments_are_private(auth, site, intruder):
    auth.client.post("/segments/", data=form())
    segment = db.session.scalar(select(Segment))
    assert intruder.get(f"/segments/{segment.id}").status_code == 404
    assert intruder.post(f"/segments/{segment.id}/delete").status_code == 404
    other_list = ContactList(account_id=site.account_id, name="Secret")
    db.session.add(other_list)
    db.session.commit()
    crafted = {**form(), "groups-0-rules-0-type": "list", "groups-0-rules-0-list_id": str(other_list.id)}
    response = intruder.post("/segments/", data=crafted, headers=HX)
    assert response.status_code == 422 and "your lists" in response.get_data(as_text=True)


def test_a_segment_is_a_campaign_audience_evaluated_at_send_time(auth, site, run_jobs):
    from app.models import Email
    from tests.integration.test_campaigns import draft
    ada = make_contact(site.account_id, "ada@customer.example")
    bob = make_contact(site.account_id, "bob@customer.example")
    for _ in range(2):
        add_page_view(site, path="/pricing", contact_id=ada.id)
    auth.client.post("/segments/", data=form())
    segment = db.session.scalar(select(Segment))
    campaign_id, data = draft(auth, site, [], segment_ids=[str(segment.id)])
    for _ in range(2):  # bob qualifies after the segment was saved: the send evaluates it again
        add_page_view(site, path="/pricing", contact_id=bob.id)
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "now"}, headers=HX)
    run_jobs()
    assert sorted(db.session.scalars(select(Email.to_address).where(Email.campaign_id == campaign_id))) == \
        ["ada@customer.example", "bob@customer.example"]


def test_a_segment_an_automation_uses_cannot_be_deleted(auth, site):
    from app.models import Automation
    auth.client.post("/segments/", data=form())
    segment = db.session.scalar(select(Segment))
    db.session.add(Automation(account_id=site.account_id, name="Nurture", status="draft",
                              trigger={"type": "segment_joined", "segment_id": segment.id}, steps=[]))
    db.session.commit()
    refused = auth.client.post(f"/segments/{segment.id}/delete")
    assert refused.status_code == 409 and "automation “Nurture”" in refused.get_data(as_text=True)
