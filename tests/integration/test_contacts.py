"""Contacts: the list and its filters, a contact's page (edit, delete, lists, tags, messages),
the lists page, CSV imports run by a real RQ worker, and isolation between accounts."""
import io
import re

import pytest
from sqlalchemy import func, select

from app.contacts import imports, lists, people
from app.extensions import db
from app.models import Contact, ContactImport, ContactList, Email, LinkClick, SmsMessage, Tag
from app.queues import enqueue
from tests.conftest import HX, make_contact


def reload(contact_id: int) -> Contact | None:
    db.session.rollback()
    return db.session.get(Contact, contact_id)


def upload(client, text: str | bytes, filename: str = "contacts.csv", columns: dict | None = None):
    """Upload a file and start its import with the columns as matched by their titles (or as in
    `columns`, {"column-2": "plan"}); the response of the upload if it was refused."""
    data = text.encode() if isinstance(text, str) else text
    response = client.post("/contacts/import", data={"file": (io.BytesIO(data), filename)},
                           content_type="multipart/form-data")
    if response.status_code != 302:
        return response
    assert re.search(r"/contacts/import/\d+/columns$", response.headers["Location"])
    return client.post(response.headers["Location"], data=columns or {})


def import_id_of(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/contacts/import/(\d+)$", response.headers["Location"]).group(1))


# The contacts list ------------------------------------------------------------------------------

def test_list_filters_by_list_and_tag_and_shows_memberships(auth, site):
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada", phone="+14155550123")
    grace = make_contact(site.account_id, "grace@navy.example", first_name="Grace", sms_status="unsubscribed")
    lists.add_to_list(ada, new_name="Newsletter")
    lists.add_tag(ada, "VIP")
    lists.add_to_list(grace, new_name="Customers")
    db.session.commit()
    newsletter = lists.account_lists(site.account_id)[1]
    vip = lists.account_tags(site.account_id)[0]

    page = auth.client.get("/contacts/").get_data(as_text=True)
    assert 'id="list-filter"' in page and ">Newsletter</option>" in page and ">VIP</option>" in page
    assert f'href="/contacts/{ada.id}"' in page and f'href="/contacts/{grace.id}"' in page
    assert "Email subscribed" in page and "SMS unsubscribed" in page and "+14155550123" in page

    on_list = auth.client.get(f"/contacts/?list={newsletter.id}", headers=HX).get_data(as_text=True)
    assert on_list.startswith('<div id="contact-results">')
    assert "ada@customer.example" in on_list and "grace@" not in on_list and "1 contact" in on_list
    tagged = auth.client.get(f"/contacts/?tag={vip.id}&q=grace", headers=HX).get_data(as_text=True)
    assert "0 contacts" in tagged
    by_phone = auth.client.get("/contacts/?q=(415) 555", headers=HX).get_data(as_text=True)
    assert "ada@customer.example" in by_phone and "grace@" not in by_phone


def test_paging_keeps_the_filters(auth, site):
    contact_list = lists.create_list(site.account_id, "Everyone")
    for number in range(people.PAGE_SIZE + 1):
        contact = people.add_contact(site.account_id, f"person{number:03}@example.org")
        contact.lists.append(contact_list)
    db.session.commit()
    first = auth.client.get(f"/contacts/?list={contact_list.id}", headers=HX).get_data(as_text=True)
    assert "51 contacts" in first and "Page 1 of 2" in first
    assert f"/contacts/?list={contact_list.id}&amp;page=2" in first
    second = auth.client.get(f"/contacts/?list={contact_list.id}&page=2", headers=HX).get_data(as_text=True)
    assert "person050@example.org" in second and "person000@" not in second


def test_adding_a_contact_with_a_phone_stores_e164(auth, site):
    bad = auth.client.post("/contacts/", data={"email": "kay@example.org", "phone": "call me"})
    assert bad.status_code == 422 and "international format" in bad.get_data(as_text=True)
    added = auth.client.post("/contacts/", data={"email": "kay@example.org", "phone": "(415) 555-0123"})
    assert added.status_code == 302
    assert people.find_by_email(site.account_id, "kay@example.org").phone == "+14155550123"


# A contact's page -------------------------------------------------------------------------------

def test_edit_in_place(auth, site, contact):
    form = auth.client.get(f"/contacts/{contact.id}/edit", headers=HX).get_data(as_text=True)
    assert form.startswith('<form id="contact-details"') and 'value="ada@customer.example"' in form
    assert 'name="email_subscribed"' in form and "checked" in form

    saved = auth.client.post(f"/contacts/{contact.id}", headers=HX, data={
        "email": "Ada.King@Customer.example", "first_name": " Augusta Ada ", "last_name": "King",
        "phone": "+44 20 7946 0958", "email_subscribed": "y", "sms_subscribed": "y"})
    body = saved.get_data(as_text=True)
    assert saved.status_code == 200 and body.startswith('<div id="contact-details">') and "Saved." in body
    assert '<h1 id="contact-name" hx-swap-oob="true">Augusta Ada King</h1>' in body
    stored = reload(contact.id)
    assert (stored.email, stored.first_name, stored.last_name, stored.phone) == \
        ("Ada.King@customer.example", "Augusta Ada", "King", "+442079460958")

    cancel = auth.client.get(f"/contacts/{contact.id}/details", headers=HX).get_data(as_text=True)
    assert cancel.startswith('<div id="contact-details">') and "+442079460958" in cancel
    without_htmx = auth.client.get(f"/contacts/{contact.id}/edit").get_data(as_text=True)
    assert ("<html" in without_htmx and '<form id="contact-details"' in without_htmx
            and "Website visits and events" in without_htmx)


@pytest.mark.parametrize("field, value, message", [
    ("email", "not-an-email", "Enter a valid email address."),
    ("email", "GRACE@navy.example", "Another contact has this email address."),
    ("phone", "555-CALL-NOW", "Enter a phone number in international format, such as +14155550123."),
])
def test_edit_refuses_invalid_details_with_422(auth, site, contact, field, value, message):
    make_contact(site.account_id, "grace@navy.example")
    data = {"email": contact.email, "first_name": "Changed", "last_name": "", "phone": "",
            "email_subscribed": "y", "sms_subscribed": "y", field: value}
    response = auth.client.post(f"/contacts/{contact.id}", data=data, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and body.startswith('<form id="contact-details"')
    assert f'<p class="error" id="{field}-error">{message}</p>' in body and 'aria-invalid="true"' in body
    assert reload(contact.id).first_name == "Ada"
    page = auth.client.post(f"/contacts/{contact.id}", data=data)  # without htmx: the whole page
    assert (page.status_code == 422 and "<html" in page.get_data(as_text=True)
            and message in page.get_data(as_text=True))


def test_subscription_changes(auth, site, contact):
    auth.client.post(f"/contacts/{contact.id}", headers=HX,
                     data={"email": contact.email, "sms_subscribed": "y"})
    stored = reload(contact.id)
    assert (stored.email_status, stored.sms_status) == ("unsubscribed", "subscribed")
    assert "Unsubscribed" in auth.client.get(f"/contacts/{contact.id}").get_data(as_text=True)

    assert people.set_subscription(stored, "sms", False) is True
    assert people.set_subscription(stored, "sms", False) is False
    assert people.set_subscription(stored, "email", True) is True
    db.session.commit()
    stored = reload(contact.id)
    assert (stored.email_status, stored.sms_status) == ("subscribed", "unsubscribed")
    with pytest.raises(ValueError):
        people.set_subscription(stored, "fax", True)


def test_delete_asks_first_then_redirects_with_a_message(auth, site, contact):
    contact_id = contact.id
    page = auth.client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert 'data-open-dialog="delete-contact-dialog"' in page and '<dialog id="delete-contact-dialog"' in page
    assert "data-close-dialog autofocus" in page
    db.session.add(Email(account_id=site.account_id, contact_id=contact.id, kind="campaign",
                         to_address=contact.email, subject="Hello", text_body="Hi", html_body="<p>Hi</p>"))
    lists.add_tag(contact, "VIP")
    db.session.commit()

    response = auth.client.post(f"/contacts/{contact.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/contacts/"
    assert "Contact ada@customer.example deleted." in auth.client.get("/contacts/").get_data(as_text=True)
    assert reload(contact_id) is None
    assert db.session.scalar(select(func.count()).select_from(Email)) == 0
    assert db.session.scalar(select(Tag.name)) == "VIP"  # the tag stays for other contacts
    assert auth.client.get(f"/contacts/{contact_id}").status_code == 404


def test_lists_on_the_contact_page(auth, site, contact):
    existing = lists.create_list(site.account_id, "Customers")
    db.session.commit()
    page = auth.client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert '<div id="contact-lists">' in page and f'<option value="{existing.id}">Customers</option>' in page

    added = auth.client.post(f"/contacts/{contact.id}/lists", data={"list_id": existing.id}, headers=HX)
    assert added.status_code == 200 and added.get_data(as_text=True).startswith('<div id="contact-lists">')
    created = auth.client.post(f"/contacts/{contact.id}/lists", data={"new_list": "  Newsletter "},
                               headers=HX)
    body = created.get_data(as_text=True)
    assert "Newsletter" in body and 'aria-label="Remove from Newsletter"' in body
    again = auth.client.post(f"/contacts/{contact.id}/lists", data={"new_list": "newsletter"}, headers=HX)
    assert again.status_code == 200
    assert sorted(item.name for item in reload(contact.id).lists) == ["Customers", "Newsletter"]
    assert db.session.scalar(select(func.count()).select_from(ContactList)) == 2

    nothing = auth.client.post(f"/contacts/{contact.id}/lists", data={}, headers=HX)
    assert nothing.status_code == 422
    assert "Choose a list or enter the name of a new one." in nothing.get_data(as_text=True)

    removed = auth.client.post(f"/contacts/{contact.id}/lists/{existing.id}/remove", headers=HX)
    assert (removed.status_code == 200
            and removed.get_data(as_text=True).startswith('<div id="contact-lists">'))
    assert [item.name for item in reload(contact.id).lists] == ["Newsletter"]
    assert lists.get_list(site.account_id, existing.id) is not None  # only the membership went

    without_htmx = auth.client.post(f"/contacts/{contact.id}/lists", data={"list_id": existing.id})
    assert without_htmx.status_code == 302 and without_htmx.headers["Location"] == f"/contacts/{contact.id}"


def test_tags_on_the_contact_page(auth, site, contact):
    added = auth.client.post(f"/contacts/{contact.id}/tags", data={"tag": "VIP"}, headers=HX)
    body = added.get_data(as_text=True)
    assert added.status_code == 200 and body.startswith('<div id="contact-tags">') and "VIP" in body
    auth.client.post(f"/contacts/{contact.id}/tags", data={"tag": "vip"}, headers=HX)
    auth.client.post(f"/contacts/{contact.id}/tags", data={"tag": "Early adopter"}, headers=HX)
    assert [tag.name for tag in reload(contact.id).tags] == ["Early adopter", "VIP"]
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 2

    empty = auth.client.post(f"/contacts/{contact.id}/tags", data={"tag": "  "}, headers=HX)
    assert empty.status_code == 422 and "Enter a name for the tag." in empty.get_data(as_text=True)
    too_long = auth.client.post(f"/contacts/{contact.id}/tags", data={"tag": "x" * 61}, headers=HX)
    assert too_long.status_code == 422 and "at most 60 characters" in too_long.get_data(as_text=True)

    vip = db.session.scalar(select(Tag).where(Tag.name == "VIP"))
    removed = auth.client.post(f"/contacts/{contact.id}/tags/{vip.id}/remove", headers=HX)
    assert removed.status_code == 200 and "Remove tag VIP" not in removed.get_data(as_text=True)
    assert [tag.name for tag in reload(contact.id).tags] == ["Early adopter"]


def test_message_history_newest_first(auth, site, contact):
    other = make_contact(site.account_id, "grace@navy.example")
    for subject in ("Welcome", "Spring sale"):
        db.session.add(Email(account_id=site.account_id, contact_id=contact.id, kind="campaign",
                             to_address=contact.email, subject=subject, text_body="…", html_body="<p>…</p>",
                             status="outbox"))
        db.session.flush()
    db.session.add(Email(account_id=site.account_id, contact_id=other.id, kind="campaign",
                         to_address=other.email, subject="Not for Ada", text_body="…", html_body="…"))
    db.session.add(SmsMessage(account_id=site.account_id, contact_id=contact.id, to_number="+14155550123",
                              body="Spring sale starts today: " + "details " * 20, status="sent"))
    db.session.add(LinkClick(account_id=site.account_id, contact_id=contact.id, click_id="c1", channel="sms",
                             url="https://www.shop.example/sale"))
    db.session.commit()
    emails = db.session.scalars(select(Email).where(Email.contact_id == contact.id).order_by(Email.id)).all()

    page = auth.client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert '<div id="contact-messages">' in page
    assert f'<a href="/outbox/{emails[1].id}">Spring sale</a>' in page
    assert f'<a href="/outbox/{emails[0].id}">Welcome</a>' in page
    assert page.index("Spring sale</a>") < page.index("Welcome</a>")  # newest first
    assert "Not for Ada" not in page
    assert "Spring sale starts today: details" in page and "…" in page and "details " * 20 not in page
    assert "https://www.shop.example/sale" in page
    assert auth.client.get(f"/outbox/{emails[0].id}").status_code == 200


# The lists page ---------------------------------------------------------------------------------

def test_lists_page_create_rename_delete(auth, site, contact):
    created = auth.client.post("/contacts/lists", data={"name": "Newsletter"})
    assert created.status_code == 302 and created.headers["Location"] == "/contacts/lists"
    assert "List Newsletter created." in auth.client.get("/contacts/lists").get_data(as_text=True)
    duplicate = auth.client.post("/contacts/lists", data={"name": "NEWSLETTER"})
    assert (duplicate.status_code == 422
            and "A list with this name already exists." in duplicate.get_data(as_text=True))
    newsletter = db.session.scalar(select(ContactList))
    lists.add_to_list(reload(contact.id), list_id=newsletter.id)
    db.session.commit()

    page = auth.client.get("/contacts/lists").get_data(as_text=True)
    assert f'<tr id="list-{newsletter.id}">' in page and "<td>1</td>" in page
    assert f'data-open-dialog="delete-list-{newsletter.id}"' in page

    form = auth.client.get(f"/contacts/lists/{newsletter.id}/edit", headers=HX).get_data(as_text=True)
    assert form.startswith(f'<tr id="list-{newsletter.id}">') and 'value="Newsletter"' in form
    empty = auth.client.post(f"/contacts/lists/{newsletter.id}", data={"name": ""}, headers=HX)
    assert empty.status_code == 422 and "Enter a name for the list." in empty.get_data(as_text=True)
    renamed = auth.client.post(f"/contacts/lists/{newsletter.id}", data={"name": "Monthly news"}, headers=HX)
    body = renamed.get_data(as_text=True)
    assert renamed.status_code == 200 and body.startswith(f'<tr id="list-{newsletter.id}">')
    assert "Monthly news" in body and "Renamed." in body
    row = auth.client.get(f"/contacts/lists/{newsletter.id}/row", headers=HX).get_data(as_text=True)
    assert "Monthly news" in row and "Renamed." not in row

    deleted = auth.client.post(f"/contacts/lists/{newsletter.id}/delete")
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/contacts/lists"
    assert "List Monthly news deleted." in auth.client.get("/contacts/lists").get_data(as_text=True)
    stored = reload(contact.id)
    assert stored is not None and stored.lists == []


# CSV import -------------------------------------------------------------------------------------

def test_csv_import_report_dedupe_update_lists_and_tags(auth, site, run_jobs):
    existing = make_contact(site.account_id, "grace@navy.example", first_name="Grace", last_name="Hopper",
                            phone="+14155550100")
    lists.add_to_list(existing, new_name="Customers")
    db.session.commit()
    csv_text = (
        "Email,First Name,LAST_NAME,Phone,Tags,Lists\n"                        # row 1
        "ada@customer.example,Ada,Lovelace,(415) 555-0123,VIP;early,Newsletter\n"  # 2: new
        "GRACE@navy.example,,,,vip,Newsletter|customers\n"                       # 3: updates Grace
        "not-an-email,Bob,,,,\n"                                                 # 4: skipped
        ",No,Email,,,\n"                                                         # 5: skipped
        "alan@bletchley.example,Alan,Turing,call me,,\n"                         # 6: skipped
        "\n"                                                                     # 7: blank, ignored
        "ADA@customer.example,Augusta,,,,\n"                                     # 8: duplicate of 2
        '"kay@example.org","Kay, Jr.",,+44 20 7946 0958,,"Newsletter"\n'         # 9: new
    )
    response = upload(auth.client, csv_text, "march.csv")
    import_id = import_id_of(response)
    pending = auth.client.get(f"/contacts/import/{import_id}").get_data(as_text=True)
    assert "march.csv" in pending and 'hx-trigger="every 2s"' in pending and "Waiting" in pending

    run_jobs()

    done = auth.client.get(f"/contacts/import/{import_id}", headers=HX)
    report = done.get_data(as_text=True)
    assert report.startswith('<div id="import-status"') and "every 2s" not in report
    assert "2 imported, 1 updated, 4 skipped:" in report
    assert "Row 4: invalid email address “not-an-email”" in report
    assert "Row 5: no email address" in report
    assert "Row 6: invalid phone number “call me”" in report
    assert "Row 8: duplicate of row 2" in report

    ada = people.find_by_email(site.account_id, "ada@customer.example")
    assert (ada.first_name, ada.last_name, ada.phone) == ("Ada", "Lovelace", "+14155550123")
    assert [item.name for item in ada.lists] == ["Newsletter"]
    assert sorted(tag.name for tag in ada.tags) == ["VIP", "early"]
    grace = people.find_by_email(site.account_id, "grace@navy.example")
    assert (grace.first_name, grace.last_name, grace.phone) == ("Grace", "Hopper", "+14155550100")
    assert [item.name for item in grace.lists] == ["Customers", "Newsletter"]
    assert [tag.name for tag in grace.tags] == ["VIP"]
    kay = people.find_by_email(site.account_id, "kay@example.org")
    assert (kay.first_name, kay.phone) == ("Kay, Jr.", "+442079460958")
    assert people.find_by_email(site.account_id, "alan@bletchley.example") is None
    assert sorted(db.session.scalars(select(ContactList.name))) == ["Customers", "Newsletter"]
    assert sorted(db.session.scalars(select(Tag.name))) == ["VIP", "early"]

    again = import_id_of(upload(auth.client,
                                "email,first_name\nada@customer.example,Ada\nnew@example.org,\n"))
    run_jobs()
    assert "1 imported, 1 updated, 0 skipped." in auth.client.get(
        f"/contacts/import/{again}").get_data(as_text=True)
    assert "march.csv" in auth.client.get("/contacts/import").get_data(as_text=True)


def test_ten_thousand_rows_import_in_batches(auth, site, run_jobs):
    make_contact(site.account_id, "person00042@example.org", first_name="Kept")
    lines = ["email,first_name,last_name,phone,tags,lists"]
    lines += [f"person{n:05}@example.org,First{n},,+1415555{n % 10000:04},{'even' if n % 2 == 0 else ''},All"
              for n in range(10_000)]
    lines += ["broken@,,,,,"] * 3
    import_id = import_id_of(upload(auth.client, "\n".join(lines) + "\n", "big.csv"))

    run_jobs()

    stored = db.session.get(ContactImport, import_id)
    assert (stored.status, stored.imported, stored.updated, stored.skipped) == ("done", 9_999, 1, 3)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 10_000
    everyone = lists.account_lists(site.account_id)[0]
    assert (everyone.name, lists.member_count(everyone)) == ("All", 10_000)
    even = db.session.scalar(select(Tag).where(Tag.name == "even"))
    assert people.search(site.account_id, tag_id=even.id)[1] == 5_000
    assert people.find_by_email(site.account_id, "person00042@example.org").first_name == "First42"
    report = auth.client.get(f"/contacts/import/{import_id}").get_data(as_text=True)
    assert "9,999 imported, 1 updated, 3 skipped:" in report and "Row 10002: invalid email address" in report


def test_upload_size_cap_and_unusable_files(auth, site):
    too_big = upload(auth.client, b"email\n" + b"a" * imports.IMPORT_MAX_BYTES)
    assert too_big.status_code == 422
    assert "The file is larger than 5 MB." in too_big.get_data(as_text=True)
    no_header = upload(auth.client, ",\nAda,+14155550123\n")
    assert no_header.status_code == 422 and "one of them must be email" in no_header.get_data(as_text=True)
    spreadsheet = upload(auth.client, "email,first_name\nada@customer.example,Ada\n".encode("utf-16"))
    assert (spreadsheet.status_code == 422
            and "could not be read as text" in spreadsheet.get_data(as_text=True))
    nothing = auth.client.post("/contacts/import", data={}, content_type="multipart/form-data")
    assert nothing.status_code == 422 and "Choose a CSV file to import." in nothing.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ContactImport)) == 0
    # No column is email, by its title or its values: the marketer is asked to choose one.
    no_email = upload(auth.client, "name,phone\nAda,+14155550123\n")
    assert no_email.status_code == 422
    assert "Choose the column that holds the email addresses." in no_email.get_data(as_text=True)
    assert db.session.scalar(select(ContactImport.status)) == "mapping"


def test_semicolon_separated_files_and_windows_encoding(auth, site, run_jobs):
    import_id = import_id_of(upload(auth.client, "E-mail;FirstName\nzoe@example.org;Zoë\n".encode("cp1252")))
    run_jobs()
    assert db.session.get(ContactImport, import_id).status == "done"
    assert people.find_by_email(site.account_id, "zoe@example.org").first_name == "Zoë"


def test_a_failed_import_is_marked_failed_with_the_reason(auth, site, user, run_jobs):
    broken = ContactImport(account_id=site.account_id, user_id=user.id, filename="broken.csv",
                           csv_text="name\nAda\n")
    db.session.add(broken)
    db.session.commit()
    enqueue("worker.jobs.contacts.import_contacts", broken.id)
    run_jobs()
    page = auth.client.get(f"/contacts/import/{broken.id}").get_data(as_text=True)
    assert db.session.get(ContactImport, broken.id).status == "failed"
    assert "Failed" in page and "one of them must be email" in page and "every 2s" not in page
    assert imports.run_import(broken.id).status == "failed"  # a finished import is not run again


def test_a_file_that_breaks_midway_keeps_the_batches_before(auth, site, run_jobs):
    rows = ([f"person{n}@example.org,Person" for n in range(600)]
            + ['late@example.org,"' + "x" * 140_000 + '"'])
    import_id = import_id_of(upload(auth.client, "email,first_name\n" + "\n".join(rows) + "\n"))
    run_jobs()
    stored = db.session.get(ContactImport, import_id)
    assert (stored.status, stored.imported) == ("failed", 500)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 500
    page = auth.client.get(f"/contacts/import/{import_id}").get_data(as_text=True)
    assert "Row 602 is not valid CSV (field larger than field limit (131072)). " \
           "Rows 2 to 501 were imported; the rest was not." in page


# Isolation --------------------------------------------------------------------------------------

def test_other_accounts_get_404(auth, site, contact, intruder, run_jobs):
    contact_list = lists.add_to_list(contact, new_name="Secret list")
    tag = lists.add_tag(contact, "Secret tag")
    db.session.commit()
    import_id = import_id_of(upload(auth.client, "email\nada@customer.example\n"))
    run_jobs()

    for url in (f"/contacts/{contact.id}", f"/contacts/{contact.id}/edit", f"/contacts/{contact.id}/details",
                f"/contacts/lists/{contact_list.id}/edit", f"/contacts/lists/{contact_list.id}/row",
                f"/contacts/import/{import_id}"):
        assert intruder.get(url).status_code == 404, url
    for url in (f"/contacts/{contact.id}", f"/contacts/{contact.id}/delete", f"/contacts/{contact.id}/lists",
                f"/contacts/{contact.id}/tags", f"/contacts/{contact.id}/lists/{contact_list.id}/remove",
                f"/contacts/{contact.id}/tags/{tag.id}/remove", f"/contacts/lists/{contact_list.id}",
                f"/contacts/lists/{contact_list.id}/delete"):
        assert intruder.post(url, data={"email": "x@example.org", "name": "Mine",
                                        "tag": "x"}).status_code == 404, url

    for page in ("/contacts/", "/contacts/lists", "/contacts/import", f"/contacts/?list={contact_list.id}"):
        body = intruder.get(page).get_data(as_text=True)
        assert "Secret" not in body and "ada@customer.example" not in body and "contacts.csv" not in body

    intruder.post("/contacts/", data={"email": "mallory@other.example"})
    mallory = db.session.scalar(select(Contact).where(Contact.email == "mallory@other.example"))
    stolen = intruder.post(f"/contacts/{mallory.id}/lists", data={"list_id": contact_list.id}, headers=HX)
    assert stolen.status_code == 422 and "Choose one of your lists." in stolen.get_data(as_text=True)
    intruder.post(f"/contacts/{mallory.id}/tags", data={"tag": "Secret tag"}, headers=HX)
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 2  # the intruder's own tag

    stored = reload(contact.id)
    assert stored.email == "ada@customer.example" and [item.name for item in stored.lists] == ["Secret list"]
    assert [tag.name for tag in stored.tags] == ["Secret tag"]
