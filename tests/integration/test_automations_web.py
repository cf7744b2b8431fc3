"""Automations over HTTP: create, settings, the path builder, activation and pause, the report,
a contact's journey and test, and other accounts kept out."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models import Automation, AutomationRun, AutomationStepRun, Segment, User
from tests.conftest import HX, make_contact

SETTINGS = {"name": "Pricing follow-up", "trigger-type": "page_view", "trigger-op": "contains",
            "trigger-value": "/pricing", "trigger-count": "2", "trigger-days": "14", "reentry": "once"}


def create(client) -> Automation:
    response = client.post("/automations/")
    assert response.status_code == 302
    return db.session.get(Automation, int(response.headers["Location"].rsplit("/", 1)[1]))


def fresh(automation: Automation) -> Automation:
    db.session.expire_all()
    return db.session.get(Automation, automation.id)


def make_segment(account_id: int, name: str = "Customers") -> Segment:
    segment = Segment(account_id=account_id, name=name, rules={"join": "and", "groups": [
        {"match": "all", "rules": [{"type": "subscription", "channel": "email", "negate": False}]}]})
    db.session.add(segment)
    db.session.commit()
    return segment


def add(client, automation, kind, **where):
    return client.post(f"/automations/{automation.id}/steps", data={"kind": kind, **where}, headers=HX)


def edit(client, automation, step_id, **fields):
    return client.post(f"/automations/{automation.id}/steps/{step_id}", data=fields, headers=HX)


def build_valid_path(client, automation, segment) -> dict:
    """views /pricing → wait 1 day → if in segment: email (yes) / SMS (no); the steps by role."""
    add(client, automation, "delay")
    delay = fresh(automation).steps[0]
    add(client, automation, "split", after=delay["id"])
    split = fresh(automation).steps[1]
    edit(client, automation, split["id"],
         **{"condition-type": "segment", "condition-segment_id": str(segment.id)})
    add(client, automation, "email", split=split["id"], branch="yes")
    add(client, automation, "sms", split=split["id"], branch="no")
    split = fresh(automation).steps[1]
    email, sms = split["yes"][0], split["no"][0]
    edit(client, automation, email["id"], subject="Questions about pricing?",
         body="<p>Reply to this email.</p>")
    edit(client, automation, sms["id"], body="Questions? Call us.")
    return {"delay": delay, "split": split, "email": email, "sms": sms}


def test_a_new_automation_is_a_draft_that_starts_on_pricing_views(auth, site):
    automation = create(auth.client)
    assert (automation.name, automation.status, automation.account_id) == ("Untitled automation", "draft",
                                                                           site.account_id)
    assert automation.trigger == {"type": "page_view", "op": "contains", "value": "/pricing", "count": 1,
                                  "days": None}
    assert [step["kind"] for step in automation.steps] == ["end"]

    page = auth.client.get(f"/automations/{automation.id}").get_data(as_text=True)
    assert "<h1>Untitled automation</h1>" in page and ">Draft</span>" in page
    assert ('id="automation-path"' in page
            and "Starts when the contact: views a page whose URL contains /pricing" in page)
    assert ">Activate</button>" in page and 'aria-current="page">Automations</a>' in page

    listing = auth.client.get("/automations/").get_data(as_text=True)
    assert "Untitled automation" in listing and "Views a page whose URL contains /pricing" in listing
    assert "<td>0</td>" in listing


def test_settings_are_validated_then_saved(auth, site):
    automation = create(auth.client)
    segment = make_segment(site.account_id)
    url = f"/automations/{automation.id}/settings"

    bad = auth.client.post(url, data={**SETTINGS, "trigger-value": " "}, headers=HX)
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert 'id="automation-settings"' in body and "Enter the page that starts the automation." in body
    assert fresh(automation).name == "Untitled automation"

    nameless = auth.client.post(url, data={**SETTINGS, "name": ""}, headers=HX)
    assert nameless.status_code == 422 and "Give the automation a name." in nameless.get_data(as_text=True)
    too_long = auth.client.post(url, data={**SETTINGS, "name": "x" * 201}, headers=HX)
    assert too_long.status_code == 422
    bad_filter = auth.client.post(url,
                                  data={**SETTINGS, "filters-0-type": "segment",
                                        "filters-0-segment_id": "999"},
                                  headers=HX)
    assert (bad_filter.status_code == 422
            and "Filter 1: Choose one of your segments." in bad_filter.get_data(as_text=True))
    bad_exit = auth.client.post(url, data={**SETTINGS, "exits-0-type": "page_view", "exits-0-op": "contains",
                                           "exits-0-value": ""}, headers=HX)
    assert (bad_exit.status_code == 422
            and "Enter the page that stops the automation." in bad_exit.get_data(as_text=True))
    bad_days = auth.client.post(url, data={**SETTINGS, "reentry": "after_days", "reentry_days": "0"},
                                headers=HX)
    assert bad_days.status_code == 422

    good = auth.client.post(url, headers=HX, data={
        **SETTINGS, "filters-0-type": "segment", "filters-0-negate": "0",
        "filters-0-segment_id": str(segment.id),
        "filters-1-type": "visit", "filters-1-negate": "1", "filters-1-op": "starts_with",
        "filters-1-value": "/careers", "filters-1-count": "1", "filters-1-days": "",
        "reentry": "after_days", "reentry_days": "7",
        "exits-0-type": "page_view", "exits-0-op": "contains", "exits-0-value": "/thank-you",
        "exits-1-type": "segment_joined", "exits-1-segment_id": str(segment.id)})
    assert good.status_code == 200
    body = good.get_data(as_text=True)
    assert "Saved." in body and 'id="automation-header" class="automation-header" hx-swap-oob="true"' in body
    assert "<h1>Pricing follow-up</h1>" in body
    saved = fresh(automation)
    assert saved.name == "Pricing follow-up"
    assert saved.trigger == {"type": "page_view", "op": "contains", "value": "/pricing", "count": 2,
                             "days": 14}
    assert saved.filters[0] == {"type": "segment", "negate": False, "segment_id": segment.id}
    assert saved.filters[1]["negate"] is True and saved.filters[1]["window"] == "ever"
    assert (saved.reentry, saved.reentry_days) == ("after_days", 7)
    assert saved.exit_rules == [{"type": "page_view", "op": "contains", "value": "/thank-you"},
                                {"type": "segment_joined", "segment_id": segment.id}]

    other = auth.client.post(url, headers=HX, data={"name": "On the list", "trigger-type": "segment_joined",
                                                    "trigger-segment_id": str(segment.id),
                                                    "reentry": "always"})
    assert other.status_code == 200
    assert fresh(automation).trigger == {"type": "segment_joined", "segment_id": segment.id}
    assert "Joins the segment Customers" in auth.client.get("/automations/").get_data(as_text=True)


def test_the_settings_form_adds_and_removes_rows_and_follows_the_trigger_type(auth, site):
    automation = create(auth.client)
    make_segment(site.account_id)
    url = f"/automations/{automation.id}/settings/form"
    added = auth.client.post(url, data={**SETTINGS, "action": "add_filter"},
                             headers=HX).get_data(as_text=True)
    assert 'name="filters-0-type"' in added and 'name="filters-0-value"' in added
    segment_row = auth.client.post(url, data={**SETTINGS, "filters-0-type": "segment"},
                                   headers=HX).get_data(as_text=True)
    assert 'name="filters-0-segment_id"' in segment_row and ">Customers</option>" in segment_row
    removed = auth.client.post(url,
                               data={**SETTINGS, "filters-0-type": "segment", "action": "remove_filter:0"},
                               headers=HX).get_data(as_text=True)
    assert 'name="filters-0-type"' not in removed and "Everyone who triggers it." in removed
    exits = auth.client.post(url, data={**SETTINGS, "action": "add_exit"}, headers=HX).get_data(as_text=True)
    assert 'name="exits-0-value"' in exits
    by_segment = auth.client.post(url, data={**SETTINGS, "trigger-type": "segment_joined"},
                                  headers=HX).get_data(as_text=True)
    assert 'name="trigger-segment_id"' in by_segment and 'name="trigger-value"' not in by_segment
    assert fresh(automation).filters == []  # nothing saved by form actions


def test_steps_are_added_edited_and_deleted_including_a_split_and_its_branches(auth, site):
    automation = create(auth.client)
    segment = make_segment(site.account_id)

    response = add(auth.client, automation, "delay")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="automation-path"') and "Wait 1 day" in body
    assert '<div id="automation-problems" hx-swap-oob="true"></div>' in body
    delay = fresh(automation).steps[0]
    assert [step["kind"] for step in fresh(automation).steps] == ["delay", "end"]

    form = auth.client.get(f"/automations/{automation.id}/steps/{delay['id']}/edit",
                           headers=HX).get_data(as_text=True)
    assert f'<form id="card-{delay["id"]}"' in form and 'name="amount"' in form and 'name="unit"' in form
    refused = edit(auth.client, automation, delay["id"], amount="0", unit="days")
    assert refused.status_code == 422
    assert ("Wait between 1 and 1,000" in refused.get_data(as_text=True)
            and 'name="amount"' in refused.get_data(as_text=True))
    assert "Wait 3 hours" in edit(auth.client, automation, delay["id"], amount="3",
                                  unit="hours").get_data(as_text=True)

    add(auth.client, automation, "split", after=delay["id"])
    split = fresh(automation).steps[1]
    assert (split["kind"] == "split"
            and [s["kind"] for s in split["yes"]] == [s["kind"] for s in split["no"]] == ["end"])
    condition_form = auth.client.get(f"/automations/{automation.id}/steps/{split['id']}/edit",
                                     query_string={"condition-type": "segment"},
                                     headers=HX).get_data(as_text=True)
    assert 'name="condition-segment_id"' in condition_form and ">Customers</option>" in condition_form
    saved = edit(auth.client, automation, split["id"],
                 **{"condition-type": "segment", "condition-negate": "0",
                    "condition-segment_id": str(segment.id)})
    assert saved.status_code == 200 and "If in segment Customers" in saved.get_data(as_text=True)
    assert fresh(automation).steps[1]["condition"] == {"type": "segment", "negate": False,
                                                       "segment_id": segment.id}
    no_segment = edit(auth.client, automation, split["id"],
                      **{"condition-type": "segment", "condition-segment_id": ""})
    assert no_segment.status_code == 422

    add(auth.client, automation, "email", split=split["id"], branch="yes")
    add(auth.client, automation, "sms", split=split["id"], branch="no")
    split = fresh(automation).steps[1]
    email, sms = split["yes"][0], split["no"][0]
    assert (email["kind"], sms["kind"]) == ("email", "sms")
    edit(auth.client, automation, email["id"], subject="Questions about pricing?", body="<p>Hi</p>")
    page = edit(auth.client, automation, sms["id"], body="Call us").get_data(as_text=True)
    assert "Send email: Questions about pricing?" in page and "Send SMS: Call us" in page
    assert ">Yes<span" in page and ">No<span" in page and "at the start of the Yes branch of step 2" in page
    add(auth.client, automation, "delay", after=email["id"])
    assert [s["kind"] for s in fresh(automation).steps[1]["yes"]] == ["email", "delay", "end"]

    clicked_form = auth.client.get(f"/automations/{automation.id}/steps/{split['id']}/edit",
                                   query_string={"condition-type": "clicked"},
                                   headers=HX).get_data(as_text=True)
    assert "Add an email step before this split first." in clicked_form  # the email is after the split

    deleted = auth.client.post(f"/automations/{automation.id}/steps/{sms['id']}/delete", headers=HX)
    assert deleted.status_code == 200 and "Send SMS: Call us" not in deleted.get_data(as_text=True)
    assert [s["kind"] for s in fresh(automation).steps[1]["no"]] == ["end"]
    missing = auth.client.post(f"/automations/{automation.id}/steps/nosuch/delete", headers=HX)
    assert (missing.status_code == 422
            and "That step is not in this automation." in missing.get_data(as_text=True))
    bad_kind = add(auth.client, automation, "teleport")
    assert bad_kind.status_code == 422 and "Choose a kind of step." in bad_kind.get_data(as_text=True)

    auth.client.post(f"/automations/{automation.id}/steps/{split['id']}/delete", headers=HX)
    assert [s["kind"] for s in fresh(automation).steps] == ["delay", "email", "delay", "end"]


def test_split_conditions_on_page_views_fields_and_clicks(auth, site):
    automation = create(auth.client)
    add(auth.client, automation, "email")
    email = fresh(automation).steps[0]
    edit(auth.client, automation, email["id"], subject="Welcome", body="<p>Hi</p>")
    add(auth.client, automation, "split", after=email["id"])
    split = fresh(automation).steps[1]

    clicked_form = auth.client.get(f"/automations/{automation.id}/steps/{split['id']}/edit",
                                   query_string={"condition-type": "clicked"},
                                   headers=HX).get_data(as_text=True)
    assert f'<option value="{email["id"]}"' in clicked_form and "Step 1: Welcome" in clicked_form
    page = edit(auth.client, automation, split["id"],
                **{"condition-type": "clicked", "condition-step_id": email["id"]}).get_data(as_text=True)
    assert "If clicked a link in the email of step 1 “Welcome”" in page
    assert fresh(automation).steps[1]["condition"] == {"type": "clicked", "step_id": email["id"]}

    visit = edit(auth.client, automation, split["id"], **{
        "condition-type": "visit", "condition-negate": "0", "condition-op": "contains",
        "condition-value": "/pricing", "condition-count": "2", "condition-days": "7"})
    assert ("If viewed a page whose URL contains /pricing at least 2 times in the last 7 days"
            in visit.get_data(as_text=True))
    empty_page = edit(auth.client, automation, split["id"],
                      **{"condition-type": "visit", "condition-op": "contains", "condition-value": ""})
    assert empty_page.status_code == 422 and "Enter a page URL." in empty_page.get_data(as_text=True)

    field = edit(auth.client, automation, split["id"],
                 **{"condition-type": "field", "condition-field": "email", "condition-op": "ends_with",
                    "condition-value": "@shop.example"})
    assert "If email ends with @shop.example" in field.get_data(as_text=True)


def test_activation_is_refused_with_the_problems_listed(auth, site):
    automation = create(auth.client)
    add(auth.client, automation, "email")
    response = auth.client.post(f"/automations/{automation.id}/activate", headers=HX)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="automation-header"') and 'role="alert"' in body
    assert "Send email (step 1) has an empty subject or message." in body
    assert fresh(automation).status == "draft"


def test_activate_then_pause_and_edit_again(auth, site):
    automation = create(auth.client)
    steps = build_valid_path(auth.client, automation, make_segment(site.account_id))

    response = auth.client.post(f"/automations/{automation.id}/activate", headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/automations/{automation.id}"
    assert fresh(automation).status == "active"
    page = auth.client.get(f"/automations/{automation.id}").get_data(as_text=True)
    assert ">Active</span>" in page and "Pause to edit." in page and ">Pause</button>" in page
    assert "Add a step" not in page and 'name="trigger-value"' not in page
    assert "Views a page whose URL contains /pricing" in page  # the settings, read-only

    refused = add(auth.client, automation, "sms", after=steps["delay"]["id"])
    assert refused.status_code == 409 and len(fresh(automation).steps) == 3
    assert edit(auth.client, automation, steps["email"]["id"], subject="Changed", body="x").status_code == 409
    assert auth.client.post(f"/automations/{automation.id}/settings", data=SETTINGS,
                            headers=HX).status_code == 409
    assert fresh(automation).name == "Untitled automation"

    paused = auth.client.post(f"/automations/{automation.id}/pause", headers=HX)
    assert paused.status_code == 204 and fresh(automation).status == "paused"
    page = auth.client.get(f"/automations/{automation.id}").get_data(as_text=True)
    assert ">Paused</span>" in page and ">Activate</button>" in page and "Add a step" in page
    assert add(auth.client, automation, "sms", after=steps["delay"]["id"]).status_code == 200


def test_the_report_counts_runs_and_shows_a_journey_and_a_test(auth, site):
    automation = create(auth.client)
    steps = build_valid_path(auth.client, automation, make_segment(site.account_id))
    auth.client.post(f"/automations/{automation.id}/activate", headers=HX)
    ada = make_contact(site.account_id, "ada@customer.example")
    bob = make_contact(site.account_id, "bob@customer.example")
    cy = make_contact(site.account_id, "cy@customer.example")
    dee = make_contact(site.account_id, "dee@customer.example")
    waiting = AutomationRun(account_id=site.account_id, automation_id=automation.id, contact_id=ada.id,
                            status="waiting", step_id=steps["delay"]["id"])
    db.session.add_all([waiting,
                        AutomationRun(account_id=site.account_id, automation_id=automation.id,
                                      contact_id=bob.id, status="completed", step_id=None),
                        AutomationRun(account_id=site.account_id, automation_id=automation.id,
                                      contact_id=cy.id,
                                      status="exited", step_id=None, exit_reason="viewed /thank-you"),
                        AutomationRun(account_id=site.account_id, automation_id=automation.id,
                                      contact_id=dee.id, status="waiting", step_id=steps["delay"]["id"])])
    db.session.flush()
    db.session.add(AutomationStepRun(run_id=waiting.id, step_id=steps["delay"]["id"],
                                     outcome="wait until tomorrow"))
    db.session.commit()

    page = auth.client.get(f"/automations/{automation.id}").get_data(as_text=True)
    for label, count in (("Entered", 4), ("Active", 0), ("Waiting", 2), ("Completed", 1),
                         ("Exited by auto-stop", 1)):
        assert f"<dt>{label}</dt><dd>{count}</dd>" in page
    assert page.count("Now at this step: 2") == 1 and "Now at this step: 0" in page
    assert ">4</td>" in auth.client.get("/automations/").get_data(as_text=True)

    journey = auth.client.get(f"/automations/{automation.id}/journey",
                              query_string={"email": "ADA@customer.example"}, headers=HX)
    body = journey.get_data(as_text=True)
    assert journey.status_code == 200 and body.lstrip().startswith('<div id="contact-result"')
    assert ("Journey of ada@customer.example" in body and "Step 1: Wait 1 day" in body
            and "wait until tomorrow" in body)
    assert "Waiting, entered" in body

    test = auth.client.get(f"/automations/{automation.id}/simulate",
                           query_string={"email": "ada@customer.example"}, headers=HX).get_data(as_text=True)
    words = " ".join(re.sub(r"<[^>]+>", " ", test).split())
    assert "Test with ada@customer.example" in words and "Nothing is sent" in words
    assert ("would wait 1 day (not waited in this test) would check “If in segment Customers”: no, "
            "so go down the No branch would send SMS: Questions? Call us. (skipped) would finish") in words
    assert db.session.scalar(select(AutomationRun).where(AutomationRun.contact_id == ada.id,
                                                         AutomationRun.status == "active")) is None

    unknown = auth.client.get(f"/automations/{automation.id}/journey",
                              query_string={"email": "nobody@x.example"}, headers=HX)
    assert (unknown.status_code == 422
            and "No contact has the email nobody@x.example." in unknown.get_data(as_text=True))


def test_other_accounts_cannot_see_or_change_an_automation(auth, site, intruder):
    automation = create(auth.client)
    step_id = automation.steps[0]["id"]
    base = f"/automations/{automation.id}"
    for response in (intruder.get(base), intruder.get(f"{base}/path"),
                     intruder.post(f"{base}/settings", data=SETTINGS),
                     intruder.post(f"{base}/settings/form", data=SETTINGS),
                     intruder.post(f"{base}/steps", data={"kind": "email"}),
                     intruder.get(f"{base}/steps/{step_id}/edit"),
                     intruder.post(f"{base}/steps/{step_id}", data={"subject": "x"}),
                     intruder.post(f"{base}/steps/{step_id}/delete"),
                     intruder.post(f"{base}/activate"), intruder.post(f"{base}/pause"),
                     intruder.get(f"{base}/journey", query_string={"email": "ada@customer.example"}),
                     intruder.get(f"{base}/simulate", query_string={"email": "ada@customer.example"})):
        assert response.status_code == 404
    assert "Untitled automation" not in intruder.get("/automations/").get_data(as_text=True)
    untouched = fresh(automation)
    assert (untouched.name, untouched.status, len(untouched.steps)) == ("Untitled automation", "draft", 1)

    other_account = db.session.scalar(select(User.account_id).where(User.email == "intruder@other.example"))
    make_contact(other_account, "theirs@other.example")
    lookup = auth.client.get(f"{base}/journey", query_string={"email": "theirs@other.example"}, headers=HX)
    assert lookup.status_code == 422  # their contacts are not found through this account's automation


def test_an_email_step_has_a_from_name_defaulting_to_the_account_name(auth, site):
    automation = create(auth.client)
    add(auth.client, automation, "email")
    step = fresh(automation).steps[0]
    form = auth.client.get(f"/automations/{automation.id}/steps/{step['id']}/edit",
                           headers=HX).get_data(as_text=True)
    assert 'name="from_name"' in form and 'placeholder="Shop"' in form
    assert "Left empty, the email comes from your account's name, “Shop”." in form
    for field, message in (("from_name", "The From name must be on one line"),
                           ("subject", "The subject must be on one line")):
        refused = edit(auth.client, automation, step["id"], **{"subject": "Hello", "body": "<p>Hi</p>",
                                                              "from_name": "Ada", field: "Ada\r\nBcc: x"})
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert fresh(automation).steps[0].get("from_name", "") == ""  # nothing saved: no header can be added
    edit(auth.client, automation, step["id"], subject="Hello", body="<p>Hi</p>",
         from_name="  Ada   Lovelace ")
    assert fresh(automation).steps[0]["from_name"] == "Ada Lovelace"


# Action steps and templates -----------------------------------------------------------------------

def test_action_steps_are_edited_with_their_own_forms_and_errors(auth, site):
    from app.contacts import fields
    from app.models import ContactList

    customers = ContactList(account_id=site.account_id, name="Customers")
    db.session.add(customers)
    score = fields.create_field(site.account_id, "Score", "number")
    db.session.commit()
    automation = create(auth.client)
    for kind in ("webhook", "notify", "field", "list", "tag", "goal"):
        assert add(auth.client, automation, kind).status_code == 200
    goal, tag, member, field, notify, webhook = fresh(automation).steps[:6]

    form = auth.client.get(f"/automations/{automation.id}/steps/{webhook['id']}/edit", headers=HX)
    body = form.get_data(as_text=True)
    assert '<label for="' + webhook["id"] + '-url">Receiver address</label>' in body
    assert webhook["secret"] in body and "Footfall-Signature" in body
    refused = edit(auth.client, automation, webhook["id"], url="http://")
    assert refused.status_code == 422 and "The address has no host name." in refused.get_data(as_text=True)
    assert refused.get_data(as_text=True).count('aria-invalid="true"') == 1
    cases = [(tag, {"action": "add", "tag": ""}, "Enter the tag, under 60 characters."),
             (member, {"action": "add", "list_id": "999999"}, "Choose one of your lists."),
             (field, {"field": score.key, "action": "add", "value": "lots"}, "Score: "),
             (notify, {"to": "sales@"}, "is not a valid email address.")]
    for step, data, message in cases:
        refused = edit(auth.client, automation, step["id"], **data)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True), message
        assert data.get("tag", data.get("to", "")) in refused.get_data(as_text=True)  # what was typed stays

    saves = [(webhook, {"url": "https://hooks.example/footfall"}, "Call the webhook https://hooks.example/footfall"),
             (notify, {"to": "sales@shop.example; boss@shop.example"},
              "Notify sales@shop.example, boss@shop.example"),
             (field, {"field": score.key, "action": "add", "value": "10"}, "Add 10 to Score"),
             (member, {"action": "remove", "list_id": str(customers.id)}, "Remove from the list Customers"),
             (tag, {"action": "add", "tag": " hot  lead "}, "Add the tag “hot lead”"),
             (goal, {"condition-type": "visit", "condition-op": "contains", "condition-value": "/thanks",
                     "condition-negate": "0", "condition-count": "1"},
              "Goal: viewed a page whose URL contains /thanks")]
    for step, data, summary in saves:
        saved = edit(auth.client, automation, step["id"], **data)
        assert saved.status_code == 200 and summary in saved.get_data(as_text=True), summary
    assert fresh(automation).steps[4]["to"] == ["sales@shop.example", "boss@shop.example"]
    page = auth.client.get(f"/automations/{automation.id}").get_data(as_text=True)
    assert "Done: 0" in page and "Met: 0" in page


def test_new_automation_offers_templates_that_fill_a_draft(auth, site, user):
    page = auth.client.get("/automations/").get_data(as_text=True)
    for name in ("Pricing page follow-up", "Browse again", "Welcome series", "Birthday", "Hot-lead alert"):
        assert name in page
    assert '<legend>Start from</legend>' in page
    response = auth.client.post("/automations/", data={"template": "hot_lead"})
    automation = db.session.get(Automation, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert (automation.name, automation.status, automation.trigger["count"]) == ("Hot-lead alert", "draft", 3)
    assert [step["kind"] for step in automation.steps] == ["tag", "notify", "end"]
    assert automation.steps[1]["to"] == [user.email]
    activated = auth.client.post(f"/automations/{automation.id}/activate", headers=HX)
    assert activated.status_code == 204 and fresh(automation).status == "active"

    welcome = auth.client.post("/automations/", data={"template": "welcome_series"})
    automation = db.session.get(Automation, int(welcome.headers["Location"].rsplit("/", 1)[1]))
    assert sum(step["kind"] == "email" for step in automation.steps) == 3
    refused = auth.client.post(f"/automations/{automation.id}/activate", headers=HX)
    assert refused.status_code == 422 and "Choose one of your lists." in refused.get_data(as_text=True)

    unknown = auth.client.post("/automations/", data={"template": "nope"})
    assert unknown.status_code == 422 and "Choose one of the templates" in unknown.get_data(as_text=True)
    assert db.session.scalar(select(Automation).where(Automation.name == "Untitled automation")) is None


def test_an_event_trigger_auto_stop_and_split_from_the_forms(auth, site):
    automation = create(auth.client)
    url = f"/automations/{automation.id}/settings"
    form = auth.client.post(f"{url}/form", headers=HX, data={**SETTINGS, "trigger-type": "event"})
    assert 'name="trigger-name"' in form.get_data(as_text=True) and 'name="trigger-value"' not in \
        form.get_data(as_text=True)
    bad = auth.client.post(url, headers=HX, data={"name": "Welcome", "trigger-type": "event",
                                                  "trigger-name": "sign up!", "reentry": "once"})
    assert bad.status_code == 422 and "Enter the event" in bad.get_data(as_text=True)
    saved = auth.client.post(url, headers=HX, data={
        "name": "Welcome", "trigger-type": "event", "trigger-name": "signup", "trigger-property": "plan",
        "trigger-property_op": "is", "trigger-property_value": "pro", "reentry": "once",
        "exits-0-type": "event", "exits-0-name": "order.placed"})
    assert saved.status_code == 200
    assert fresh(automation).trigger == {"type": "event", "name": "signup", "property": "plan",
                                         "property_op": "is", "property_value": "pro"}
    assert fresh(automation).exit_rules == [{"type": "event", "name": "order.placed"}]
    assert "Does signup with plan is pro" in auth.client.get("/automations/").get_data(as_text=True)
    from app.automations import service
    assert service.describe_exit(fresh(automation).exit_rules[0], {}) == "Does order.placed"

    split = add(auth.client, automation, "split")
    step_id = next(step["id"] for step in fresh(automation).steps if step["kind"] == "split")
    form = auth.client.get(f"/automations/{automation.id}/steps/{step_id}/edit",
                           query_string={"condition-type": "event"}, headers=HX)
    assert 'name="condition-name"' in form.get_data(as_text=True)
    edited = edit(auth.client, automation, step_id, **{
        "condition-type": "event", "condition-negate": "0", "condition-name": "order.placed",
        "condition-count": "2", "condition-days": "30"})
    assert split.status_code == 200 and edited.status_code == 200, edited.get_data(as_text=True)[:500]
    condition = next(step for step in fresh(automation).steps if step["id"] == step_id)["condition"]
    assert condition["name"] == "order.placed" and condition["count"] == 2 and condition["days"] == 30
    assert "did order.placed at least 2 times in the last 30 days" in edited.get_data(as_text=True)
