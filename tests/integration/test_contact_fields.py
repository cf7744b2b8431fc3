"""Contact fields: Settings → Contact fields, values on the contact page (checked by type), the
data export, and segment rules of every type in SQL (SQLite, or PostgreSQL with DATABASE_URL)."""
import html
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.contacts import fields, people
from app.extensions import db
from app.models import Contact, ContactField, Segment
from app.models.types import utcnow
from app.segments.compiler import members_query
from app.segments.rules import RuleError, summary
from app.segments.service import checked_tree, choices
from tests.conftest import HX, make_contact


def add_field(client, **data):
    return client.post("/settings/fields", data={"type": "text", **data})


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# ---- Settings → Contact fields ------------------------------------------------------------------

def test_settings_add_every_type_and_see_them_listed(auth, site):
    assert add_field(auth.client, name="Favourite colour").status_code == 302
    assert add_field(auth.client, name="Lifetime value", type="number", default="0").status_code == 302
    assert add_field(auth.client, name="Renewal", type="date").status_code == 302
    assert add_field(auth.client, name="Newsletter fan", type="boolean", default="no").status_code == 302
    response = add_field(auth.client, name="Plan", type="choice", choices="Free\nPro\n pro \nTeam\n",
                         default="pro", key="plan")
    assert response.status_code == 302

    page = page_text(auth.client.get("/settings/fields"))
    for name in ("Company", "Birthday", "Anniversary", "Favourite colour", "Lifetime value", "Renewal",
                 "Newsletter fan", "Plan"):
        assert name in page
    assert "favourite_colour" in page and "Free, Pro, Team" in page
    plan = db.session.scalar(select(ContactField).where(ContactField.key == "plan"))
    assert plan.choices == ["Free", "Pro", "Team"] and plan.default == "Pro"  # the choice as listed
    boolean = db.session.scalar(select(ContactField).where(ContactField.key == "newsletter_fan"))
    assert boolean.default == "no"


@pytest.mark.parametrize("data, message", [
    ({"name": ""}, "Give the field a name."),
    ({"name": "Company"}, "Another field has this name."),
    ({"name": "X", "key": "first_name"}, "“first_name” is taken by a built-in field"),
    ({"name": "X", "key": "9lives"}, "lower-case letters, digits and _"),
    ({"name": "X", "type": "colour"}, "Choose the kind of value the field holds."),
    ({"name": "X", "type": "choice", "choices": "\n \n"}, "List the choices, one a line."),
    ({"name": "X", "type": "number", "default": "lots"},
     "The default does not fit the field: “lots” is not a number."),
    ({"name": "X", "type": "choice", "choices": "A\nB", "default": "C"},
     "“C” is not one of the choices: A, B."),
])
def test_settings_refuse_bad_fields_and_keep_the_input(auth, site, data, message):
    response = add_field(auth.client, **data)
    assert response.status_code == 422
    page = page_text(response)
    assert message in page and 'aria-invalid="true"' in page
    if data.get("name"):
        assert f'value="{data["name"]}"' in page
    assert db.session.scalar(select(ContactField.id)) is None


def test_settings_key_clash_and_rename(auth, site):
    add_field(auth.client, name="Plan", type="choice", choices="Free\nPro")
    response = add_field(auth.client, name="Plan (old)", key="plan")
    assert response.status_code == 422 and "Another field has the key “plan”." in page_text(response)
    row = db.session.scalar(select(ContactField))

    form = auth.client.get(f"/settings/fields/{row.id}/edit", headers=HX).get_data(as_text=True)
    assert form.startswith(f'\n<tr id="field-{row.id}">') or f'<tr id="field-{row.id}">' in form
    response = auth.client.post(f"/settings/fields/{row.id}", headers=HX,
                                data={"name": "Subscription plan", "choices": "Free\nPro\nTeam"})
    assert response.status_code == 200 and "Saved." in response.get_data(as_text=True)
    db.session.rollback()
    row = db.session.get(ContactField, row.id)
    assert (row.name, row.key, row.choices) == ("Subscription plan", "plan", ["Free", "Pro", "Team"])
    bad = auth.client.post(f"/settings/fields/{row.id}", data={"name": "Plan", "choices": "Free",
                                                                "default": "Team"}, headers=HX)
    assert bad.status_code == 422 and "“Team” is not one of the choices: Free." in page_text(bad)


def test_deleting_a_field_erases_its_values_unless_a_segment_uses_it(auth, site):
    add_field(auth.client, name="Shoe size", type="number")
    add_field(auth.client, name="Colour")
    size, colour = db.session.scalars(select(ContactField).order_by(ContactField.id)).all()
    ada = make_contact(site.account_id, "ada@customer.example", custom={"shoe_size": 38, "colour": "teal"})
    segment = Segment(account_id=site.account_id, name="Big feet", rules={"join": "and", "groups": [
        {"match": "all", "rules": [{"type": "field", "field": "shoe_size", "field_type": "number", "op": "gt",
                                    "value": 44, "negate": False}]}]})
    db.session.add(segment)
    db.session.commit()

    refused = auth.client.post(f"/settings/fields/{size.id}/delete")
    assert refused.status_code == 409
    assert "This field is used by segment “Big feet”: change those first." in page_text(refused)
    assert auth.client.post(f"/settings/fields/{colour.id}/delete").status_code == 302
    assert reload(ada.id).custom == {"shoe_size": 38}
    assert "Field Colour deleted" in page_text(auth.client.get("/settings/fields"))


def test_another_account_cannot_see_or_change_a_field(auth, site, intruder):
    add_field(auth.client, name="Secret score", type="number")
    row = db.session.scalar(select(ContactField))
    assert "Secret score" not in page_text(intruder.get("/settings/fields"))
    base = f"/settings/fields/{row.id}"
    for method, url in (("get", base), ("get", f"{base}/edit"), ("post", base), ("post", f"{base}/delete")):
        assert getattr(intruder, method)(url, data={"name": "Mine"}).status_code == 404
    db.session.rollback()
    assert db.session.get(ContactField, row.id).name == "Secret score"


# ---- values on the contact page -----------------------------------------------------------------

def reload(contact_id: int) -> Contact:
    db.session.rollback()
    return db.session.get(Contact, contact_id)


def contact_form(contact, **fields_typed) -> dict:
    data = {"email": contact.email, "first_name": contact.first_name, "last_name": contact.last_name,
            "phone": contact.phone, "email_subscribed": "y"}
    data.update({f"field-{key}": value for key, value in fields_typed.items()})
    return data


@pytest.fixture
def account_fields(site):
    for name, kind, extra in (("Plan", "choice", {"choices": ["Free", "Pro", "Team"]}),
                              ("Score", "number", {}), ("Renewal", "date", {}), ("VIP", "boolean", {}),
                              ("Notes", "text", {})):
        fields.create_field(site.account_id, name, kind, **extra)
    db.session.commit()


def test_contact_page_edits_every_field_type(auth, site, account_fields):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada")
    response = auth.client.post(f"/contacts/{ada.id}", headers=HX, data=contact_form(
        ada, company="  Analytical Engines Ltd ", birthday="12-10", anniversary="1835-07-08", plan="pro",
        score="1,250.5", renewal="2027-01-31", vip="yes", notes="Prefers letters"))
    assert response.status_code == 200, response.get_data(as_text=True)
    page = page_text(response)
    assert "Analytical Engines Ltd" in page and "10 December" in page and "1835-07-08" in page
    assert "Pro" in page and "1,250.5" in page and "2027-01-31" in page and "Yes" in page
    ada = reload(ada.id)
    assert (ada.company, ada.birthday, ada.anniversary) == ("Analytical Engines Ltd", "--12-10", "1835-07-08")
    assert ada.custom == {"plan": "Pro", "score": 1250.5, "renewal": "2027-01-31", "vip": True,
                          "notes": "Prefers letters"}

    form = page_text(auth.client.get(f"/contacts/{ada.id}/edit", headers=HX))
    assert 'value="12-10"' in form and 'value="1250.5"' in form and '<option value="yes" selected>' in form

    # A form without a field's input (drawn before the field was added) leaves its value alone.
    partial = contact_form(ada, company="Engines")
    assert auth.client.post(f"/contacts/{ada.id}", headers=HX, data=partial).status_code == 200
    assert reload(ada.id).custom["plan"] == "Pro" and reload(ada.id).company == "Engines"

    cleared = auth.client.post(f"/contacts/{ada.id}", headers=HX, data=contact_form(
        ada, company="", birthday="", anniversary="", plan="", score="", renewal="", vip="", notes=""))
    assert cleared.status_code == 200
    ada = reload(ada.id)
    assert (ada.company, ada.birthday, ada.custom) == ("", "", {})


def test_contact_page_names_every_bad_value_and_changes_nothing(auth, site, account_fields):
    ada = make_contact(site.account_id, "ada@customer.example", custom={"score": 3})
    response = auth.client.post(f"/contacts/{ada.id}", headers=HX, data=contact_form(
        ada, first_name="Changed", birthday="1990-02-30", score="12 apples", plan="Enterprise", vip="maybe",
        renewal="31/01/2027"))
    assert response.status_code == 422
    page = page_text(response)
    assert "Birthday: “1990-02-30” is not a date: enter it as YYYY-MM-DD, or MM-DD without a year." in page
    assert "Score: “12 apples” is not a number." in page
    assert "Plan: “Enterprise” is not one of the choices: Free, Pro, Team." in page
    assert "VIP: “maybe” is not yes or no." in page and "Renewal: “31/01/2027” is not a date" in page
    assert 'value="12 apples"' in page and 'value="31/01/2027"' in page  # the input is kept
    assert page.count('aria-invalid="true"') == 5
    ada = reload(ada.id)
    assert ada.custom == {"score": 3} and ada.first_name == "" and ada.birthday == ""

    too_big = auth.client.post(f"/contacts/{ada.id}", headers=HX, data=contact_form(ada, score="1e13"))
    assert too_big.status_code == 422 and "is out of range" in page_text(too_big)


def test_export_includes_the_fields(auth, site, account_fields):
    ada = make_contact(site.account_id, "ada@customer.example", company="Engines", birthday="--12-10",
                       custom={"plan": "Pro", "vip": False})
    data = json.loads(auth.client.get(f"/contacts/{ada.id}/export.json").get_data(as_text=True))
    assert data["contact"]["company"] == "Engines" and data["contact"]["birthday"] == "--12-10"
    assert data["fields"] == {"plan": "Pro", "vip": False}


def test_changing_a_field_updates_segments_for_that_contact(auth, site, account_fields, run_jobs):
    ada = make_contact(site.account_id, "ada@customer.example")
    segment = Segment(account_id=site.account_id, name="Pro", rules=checked_tree(site.account_id, {
        "join": "and", "groups": [{"match": "all", "rules": [{"type": "field", "field": "plan",
                                                              "op": "any_of", "values": ["Pro"]}]}]}))
    db.session.add(segment)
    db.session.commit()
    auth.client.post(f"/contacts/{ada.id}", headers=HX, data=contact_form(ada, plan="Pro"))
    run_jobs()
    page = page_text(auth.client.get(f"/contacts/{ada.id}"))
    assert db.session.get(Segment, segment.id).member_count == 1
    assert "Pro" in page


# ---- segment rules by type ---------------------------------------------------------------------

def members(account_id, *rules, join="all") -> set[str]:
    tree = checked_tree(account_id, {"join": "and", "groups": [{"match": join, "rules": list(rules)}]})
    ids = db.session.scalars(members_query(account_id, tree)).all()
    return set(db.session.scalars(select(Contact.email).where(Contact.id.in_(ids))))


def field_rule(field, op, **extra):
    return {"type": "field", "field": field, "op": op, **extra}


@pytest.fixture
def people_with_fields(site, account_fields):
    today = utcnow().date()
    soon = (today + timedelta(days=3)).strftime("%m-%d")
    rows = {
        "a@x.example": dict(company="Acme", birthday=f"--{soon}",
                            custom={"plan": "Pro", "score": 10, "renewal": "2026-01-15", "vip": True}),
        "b@x.example": dict(company="", birthday="1990-" + (today + timedelta(days=40)).strftime("%m-%d"),
                            custom={"plan": "Free", "score": 2.5,
                                    "renewal": (today - timedelta(days=5)).isoformat(), "vip": False}),
        "c@x.example": dict(company="Acme Labs", custom={"plan": "Team", "notes": "likes cats"}),
        "d@x.example": dict(),
    }
    for email, values in rows.items():
        make_contact(site.account_id, email, **values)
    db.session.commit()
    return site.account_id


def test_text_rules_on_built_in_and_own_fields(people_with_fields):
    account = people_with_fields
    assert members(account, field_rule("company", "contains", value="Acme")) == {"a@x.example", "c@x.example"}
    assert members(account, field_rule("company", "is_empty")) == {"b@x.example", "d@x.example"}
    assert members(account, field_rule("notes", "contains", value="cat")) == {"c@x.example"}
    assert members(account, field_rule("notes", "is_empty")) == {"a@x.example", "b@x.example", "d@x.example"}
    assert members(account, {**field_rule("notes", "contains", value="cat"), "negate": True}) == \
        {"a@x.example", "b@x.example", "d@x.example"}


def test_number_rules(people_with_fields):
    account = people_with_fields
    assert members(account, field_rule("score", "eq", value="10")) == {"a@x.example"}
    assert members(account, field_rule("score", "lt", value="5")) == {"b@x.example"}
    assert members(account, field_rule("score", "gt", value="2.5")) == {"a@x.example"}
    assert members(account, field_rule("score", "between", value="2", value_to="10")) == \
        {"a@x.example", "b@x.example"}
    assert members(account, field_rule("score", "is_empty")) == {"c@x.example", "d@x.example"}
    # Not (score > 5) includes those without a score.
    assert members(account, {**field_rule("score", "gt", value=5), "negate": True}) == \
        {"b@x.example", "c@x.example", "d@x.example"}


def test_date_rules_and_anniversaries(people_with_fields):
    account = people_with_fields
    assert members(account, field_rule("renewal", "before", value="2026-02-01")) == {"a@x.example"}
    assert members(account, field_rule("renewal", "after", value="2026-02-01")) == {"b@x.example"}
    assert members(account, field_rule("renewal", "last_days", days=7)) == {"b@x.example"}
    # The year-less birthday three days away, not the one in 40 days.
    assert members(account, field_rule("birthday", "anniversary_days", days=7)) == {"a@x.example"}
    assert members(account, field_rule("birthday", "anniversary_days", days=45)) == \
        {"a@x.example", "b@x.example"}
    # A date without a year is never before or after a date.
    assert members(account, field_rule("birthday", "before", value="2100-01-01")) == {"b@x.example"}
    assert members(account, field_rule("birthday", "is_not_empty")) == {"a@x.example", "b@x.example"}


def test_yes_no_and_choice_rules(people_with_fields):
    account = people_with_fields
    assert members(account, field_rule("vip", "is_yes")) == {"a@x.example"}
    assert members(account, field_rule("vip", "is_no")) == {"b@x.example", "c@x.example", "d@x.example"}
    assert members(account, field_rule("plan", "any_of", values=["pro", "Team"])) == \
        {"a@x.example", "c@x.example"}
    assert members(account, field_rule("plan", "is_empty")) == {"d@x.example"}


def test_leap_day_birthdays_are_celebrated_on_the_28th_in_other_years():
    from datetime import date

    from app.segments.compiler import _month_days

    assert "02-29" in _month_days(date(2027, 2, 27), 1)
    assert "02-29" not in _month_days(date(2028, 2, 27), 1)  # 2028 has its own 29th
    assert _month_days(date(2026, 12, 30), 3) == ["01-01", "01-02", "12-30", "12-31"]


@pytest.mark.parametrize("rule, message", [
    (field_rule("shoe", "is"), "Choose a contact field."),
    (field_rule("score", "contains", value="1"), "Choose how to compare the field."),
    (field_rule("score", "gt", value="many"), "The number must be a number."),
    (field_rule("score", "between", value="9", value_to="1"), "The first number must not be larger"),
    (field_rule("renewal", "before", value="soon"), "The date must be a date (YYYY-MM-DD)."),
    (field_rule("birthday", "anniversary_days", days=400), "between 0 and 365"),
    (field_rule("plan", "any_of", values=[]), "Choose at least one of the choices."),
    (field_rule("plan", "any_of", values=["Gold"]), "Choose among the field's choices: Free, Pro, Team."),
])
def test_bad_field_rules_are_refused(site, account_fields, rule, message):
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        checked_tree(site.account_id, {"join": "and", "groups": [{"match": "all", "rules": [rule]}]})


def test_summaries_name_the_fields(site, account_fields):
    tree = checked_tree(site.account_id, {"join": "and", "groups": [{"match": "all", "rules": [
        field_rule("plan", "any_of", values=["Pro", "Team"]),
        field_rule("birthday", "anniversary_days", days=7),
        field_rule("score", "between", value="1000", value_to="2000"), field_rule("vip", "is_yes")]}]})
    assert summary(tree, choices(site.account_id)) == (
        "Contacts who Plan is any of Pro or Team and birthday has its anniversary within 7 days and "
        "Score is between 1,000 and 2,000 and VIP is yes")


def test_segment_builder_offers_the_operators_of_the_field_type(auth, site, account_fields):
    data = {"name": "Pro", "join": "and", "groups-0-match": "all", "groups-0-rules-0-type": "field",
            "groups-0-rules-0-field": "plan", "groups-0-rules-0-op": "any_of"}
    builder = page_text(auth.client.post("/segments/builder", data=data, headers=HX))
    assert 'name="groups-0-rules-0-values" multiple' in builder and ">Team</option>" in builder
    assert "is between" not in builder
    data.update({"groups-0-rules-0-field": "score", "groups-0-rules-0-op": "between"})
    builder = page_text(auth.client.post("/segments/builder", data=data, headers=HX))
    assert 'name="groups-0-rules-0-value_to"' in builder and "is between" in builder
    saved = auth.client.post("/segments/", data={**data, "groups-0-rules-0-field": "plan",
                                                 "groups-0-rules-0-op": "any_of",
                                                 "groups-0-rules-0-values": ["Pro", "Team"]})
    assert saved.status_code in (200, 302), page_text(saved)
    segment = db.session.scalar(select(Segment))
    assert segment.rules["groups"][0]["rules"][0]["values"] == ["Pro", "Team"]


def test_people_update_contact_checks_values_before_changing_anything(site, account_fields):
    ada = make_contact(site.account_id, "ada@customer.example")
    with pytest.raises(fields.FieldErrors) as raised:
        people.update_contact(ada, email="not an email", first_name="", last_name="", phone="",
                              email_subscribed=True, sms_subscribed=True, field_values={"score": "x"})
    assert raised.value.errors == {"score": "Score: “x” is not a number."}


# ---- CSV import ---------------------------------------------------------------------------------

CSV = (
    "Email,First Name,Company,Birthday,Plan,Score,Favourite Colour,Renewal\n"
    "ada@customer.example,Ada,Engines,12-10,pro,\"1,250\",teal,2027-01-31\n"      # 2: new
    "grace@navy.example,,,,,,,\n"                                              # 3: updates Grace
    "alan@bletchley.example,Alan,,1912-06-23,Gold,,,\n"                        # 4: choice not in the list
    "kay@example.org,Kay,,31/12/1990,,,,\n"                                    # 5: not a date
    "joan@example.org,Joan,,,,1e13,,\n"                                        # 6: out of range
    "hedy@example.org,Hedy,,,Team,7,red,2026-13-01\n"                          # 7: a new field's bad date
)


def upload_file(client, text: str):
    import io

    return client.post("/contacts/import", data={"file": (io.BytesIO(text.encode()), "fields.csv")},
                       content_type="multipart/form-data")


def test_import_maps_columns_previews_rows_and_creates_new_fields(auth, site, account_fields, run_jobs):
    make_contact(site.account_id, "grace@navy.example", first_name="Grace", company="Navy",
                 custom={"plan": "Free", "score": 3})
    uploaded = upload_file(auth.client, CSV)
    assert uploaded.status_code == 302
    columns_url = uploaded.headers["Location"]
    page = page_text(auth.client.get(columns_url))
    # Matched by title: built-in aliases, and the account's fields by name.
    for position, target in ((0, "email"), (1, "first_name"), (2, "company"), (3, "birthday"), (4, "plan"),
                             (5, "score")):
        select_html = page.split(f'name="column-{position}"')[1].split("</select>")[0]
        assert f'<option value="{target}" selected>' in select_html, (position, target)
    colour = page.split('name="column-6"')[1].split("</select>")[0]
    assert '<option value="" selected>Leave out</option>' in colour
    assert "A new field: date" in page and "<td>teal</td>" in page and "<th scope=\"col\">Row 6</th>" in page

    clash = auth.client.post(columns_url, data={"column-6": "company"})
    assert clash.status_code == 422 and "Two columns go to Company: choose one of them." in page_text(clash)
    assert db.session.scalar(select(ContactField.id).where(ContactField.key == "favourite_colour")) is None

    started = auth.client.post(columns_url, data={"column-6": "new:text", "column-7": "renewal"})
    assert started.status_code == 302
    run_jobs()
    report = page_text(auth.client.get(started.headers["Location"]))
    assert "1 imported, 1 updated, 4 skipped:" in report
    assert "Row 4: Plan: “Gold” is not one of the choices: Free, Pro, Team." in report
    assert "Row 5: Birthday: “31/12/1990” is not a date: enter it as YYYY-MM-DD, or MM-DD without a year." \
        in report
    assert "Row 6: Score: “1e13” is out of range" in report
    assert "Row 7: Renewal: “2026-13-01” is not a date" in report

    db.session.rollback()
    ada = db.session.scalar(select(Contact).where(Contact.email == "ada@customer.example"))
    assert (ada.first_name, ada.company, ada.birthday) == ("Ada", "Engines", "--12-10")
    assert ada.custom == {"plan": "Pro", "score": 1250, "favourite_colour": "teal", "renewal": "2027-01-31"}
    grace = db.session.scalar(select(Contact).where(Contact.email == "grace@navy.example"))
    assert (grace.first_name, grace.company, grace.custom) == ("Grace", "Navy", {"plan": "Free", "score": 3})
    created = db.session.scalar(select(ContactField).where(ContactField.key == "favourite_colour"))
    assert (created.name, created.type) == ("Favourite Colour", "text")


def test_an_import_updates_fields_of_existing_contacts_and_keeps_empty_cells(auth, site, account_fields,
                                                                            run_jobs):
    make_contact(site.account_id, "grace@navy.example", company="Navy",
                 custom={"plan": "Free", "notes": "hi"})
    uploaded = upload_file(auth.client, "email,plan,notes,company\ngrace@navy.example,team,,\n")
    auth.client.post(uploaded.headers["Location"])
    run_jobs()
    db.session.rollback()
    grace = db.session.scalar(select(Contact).where(Contact.email == "grace@navy.example"))
    assert grace.custom == {"plan": "Team", "notes": "hi"} and grace.company == "Navy"


def test_a_column_of_addresses_is_taken_as_email_and_abandoned_uploads_are_dropped(auth, site):
    from app.contacts import imports

    uploaded = upload_file(auth.client, "Contact,Name\nada@customer.example,Ada\n,\n")
    page = page_text(auth.client.get(uploaded.headers["Location"]))
    assert '<option value="email" selected>' in page.split('name="column-0"')[1].split("</select>")[0]
    import_id = int(uploaded.headers["Location"].split("/")[-2])
    status = page_text(auth.client.get(f"/contacts/import/{import_id}"))
    assert "Match the columns" in status and "Not started" in status

    assert imports.fail_stalled_imports() == []
    assert imports.fail_stalled_imports(utcnow() + timedelta(days=1, minutes=1)) == [import_id]
    db.session.rollback()
    stored = imports.get_import(site.account_id, import_id)
    assert stored.status == "failed" and stored.csv_text == ""
    status = page_text(auth.client.get(f"/contacts/import/{import_id}"))
    assert "its columns were not matched within a day" in status
    assert auth.client.post(f"/contacts/import/{import_id}/columns").status_code == 302  # to its status


def test_company_length_removed_choices_literal_keys_and_typed_casts(auth, site, account_fields):
    ada = make_contact(site.account_id, "ada@customer.example", custom={"plan": "Legacy"})  # off the list
    too_long = auth.client.post(f"/contacts/{ada.id}", headers=HX, data=contact_form(ada, company="x" * 201))
    assert too_long.status_code == 422 and "Company: Keep it under 200 characters." in page_text(too_long)
    kept = auth.client.post(f"/contacts/{ada.id}", headers=HX,
                            data=contact_form(ada, plan="Legacy", score="2"))
    assert kept.status_code == 200 and reload(ada.id).custom == {"plan": "Legacy", "score": 2}

    with pytest.raises(fields.FieldError, match="taken by a built-in field"):
        fields.create_field(site.account_id, "True", "boolean", key="true")

    # Another account's field of the same key holds text: casting it never fails this account's rule.
    from tests.conftest import make_user

    other = make_user("other@else.example", account_name="Else")
    fields.create_field(other.account_id, "Score", "text")
    make_contact(other.account_id, "high@else.example", custom={"score": "high"})
    db.session.commit()
    assert members(site.account_id, field_rule("score", "gt", value="1")) == {"ada@customer.example"}
    assert members(other.account_id, field_rule("score", "is", value="high")) == {"high@else.example"}
