"""Date triggers (a birthday, an anniversary, any date field: on the day or N days before or after,
at a time of day) and the account's time zone, which pages show times in and schedules are read in."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app import timezones
from app.automations import engine, schema, triggers
from app.automations.schema import AutomationError
from app.contacts import fields
from app.extensions import db
from app.models import Account, Automation, AutomationRun, Campaign, Email
from app.models.types import utcnow
from tests.conftest import HX, make_contact
from tests.integration.test_automations_engine import automation, email, end
from tests.integration.test_campaigns import draft, make_list


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=timezone.utc)


def birthday_path(site, offset=0, at="09:00", field="birthday"):
    return automation(site, [email("Happy birthday, {{ first_name }}!"), end()],
                      trigger={"type": "date", "field": field, "offset_days": offset, "time": at})


def started(now) -> list[tuple[str, str]]:
    ids = triggers.start_date_runs(now)
    return [(db.session.get(AutomationRun, run_id).occurrence,
             db.session.get(AutomationRun, run_id).contact_id) for run_id in ids]


def set_zone(site, zone):
    db.session.get(Account, site.account_id).time_zone = zone
    db.session.commit()


def test_a_birthday_starts_the_path_once_a_year_at_the_time_of_day_in_the_accounts_zone(site, run_jobs):
    set_zone(site, "America/New_York")
    ada = make_contact(site.account_id, "ada@customer.example", first_name="Ada", birthday="1990-12-03")
    grace = make_contact(site.account_id, "grace@customer.example", first_name="Grace", birthday="--12-03")
    make_contact(site.account_id, "bob@customer.example", birthday="1990-12-04")
    make_contact(site.account_id, "nobody@customer.example")
    birthday_path(site)
    assert started(at(2026, 12, 3, 13, 30)) == []  # 08:30 in New York: not yet
    assert started(at(2026, 12, 3, 14, 5)) == [("2026", ada.id), ("2026", grace.id)]
    run_jobs()
    assert started(at(2026, 12, 3, 18, 0)) == []  # later the same day: not again
    assert started(at(2026, 12, 4, 4, 0)) == []  # 23:00 on the 3rd in New York: still not again
    subjects = sorted(db.session.scalars(select(Email.subject)))
    assert subjects == ["Happy birthday, Ada!", "Happy birthday, Grace!"]
    assert started(at(2027, 12, 3, 14, 5)) == [("2027", ada.id), ("2027", grace.id)]  # next year


def test_days_before_a_date_and_a_custom_date_field(site):
    renewal = fields.create_field(site.account_id, "Renewal", "date")
    early = make_contact(site.account_id, "early@customer.example", birthday="1985-01-01")
    renews = make_contact(site.account_id, "renews@customer.example", custom={renewal.key: "2024-01-10"})
    db.session.commit()
    birthday_path(site, offset=-3)
    automation(site, [email("Your renewal"), end()],
               trigger={"type": "date", "field": renewal.key, "offset_days": 2, "time": "08:00"})
    assert started(at(2026, 12, 29, 9, 0)) == [("2027", early.id)]  # 3 days before 1 January 2027
    assert started(at(2027, 1, 12, 9, 0)) == [("2027", renews.id)]  # 2 days after 10 January


def test_a_leap_day_birthday_comes_round_on_the_28th_in_other_years(site, run_jobs):
    leap = make_contact(site.account_id, "leap@customer.example", birthday="2000-02-29")
    birthday_path(site)
    assert started(at(2027, 2, 28, 9, 0)) == [("2027", leap.id)]
    run_jobs()
    assert started(at(2028, 2, 28, 9, 0)) == []  # 2028 has its own 29th
    assert started(at(2028, 2, 29, 9, 0)) == [("2028", leap.id)]


def test_a_date_trigger_says_what_is_wrong(site):
    ids = engine.ids_for(site.account_id)

    def refused(**trigger):
        with pytest.raises(AutomationError) as error:
            schema.check_trigger({"type": "date", "field": "birthday", "offset_days": 0, "time": "09:00",
                                  **trigger}, ids)
        return str(error.value)

    assert refused(field="company") == "Choose one of the contacts' date fields, such as the birthday."
    assert refused(time="25:00") == "Enter the time of day as HH:MM, such as 09:00."
    assert refused(offset_days="400") == "Start at most 365 days before or after the date."
    assert refused(offset_days="soon") == "The number of days must be a whole number."
    assert schema.check_trigger({"type": "date", "field": "anniversary", "offset_days": "-7", "time": "7:30"},
                                ids) == {"type": "date", "field": "anniversary", "offset_days": -7,
                                         "time": "07:30"}


def test_the_settings_form_sets_a_date_trigger_in_words(auth, site):
    response = auth.client.post("/automations/", data={"template": "birthday"})
    automation_id = int(response.headers["Location"].rsplit("/", 1)[1])
    form = {"name": "Birthday", "trigger-type": "date", "trigger-field": "anniversary", "trigger-days": "2",
            "trigger-direction": "before", "trigger-time": "10:15", "reentry": "always"}
    saved = auth.client.post(f"/automations/{automation_id}/settings", data=form, headers=HX)
    assert saved.status_code == 200
    page = auth.client.get(f"/automations/{automation_id}").get_data(as_text=True)
    assert "2 days before their anniversary, at 10:15" in page
    refused = auth.client.post(f"/automations/{automation_id}/settings",
                               data={**form, "trigger-time": "late"}, headers=HX)
    assert refused.status_code == 422 and "Enter the time of day as HH:MM" in refused.get_data(as_text=True)
    activated = auth.client.post(f"/automations/{automation_id}/activate", headers=HX)
    assert activated.status_code == 204


def test_the_account_time_zone_is_chosen_in_settings_and_used_for_times_and_schedules(auth, site):
    page = auth.client.get("/settings/account").get_data(as_text=True)
    assert '<label for="time_zone">Time zone</label>' in page and '<option selected value="UTC">' in page
    refused = auth.client.post("/settings/account", data={"name": "Shop", "time_zone": "Mars/Olympus"})
    assert refused.status_code == 422 and "Choose a time zone from the list" in refused.get_data(as_text=True)
    assert db.session.get(Account, site.account_id).time_zone == "UTC"
    saved = auth.client.post("/settings/account", data={"name": "Shop & Co", "time_zone": "Europe/Paris"})
    assert saved.status_code == 302
    assert "Times are shown in Europe/Paris" in auth.client.get("/settings/account").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Account, site.account_id).name == "Shop & Co"

    # A send time is typed in Paris time and stored in UTC; the editor shows it in Paris time.
    customers = make_list(site.account_id, "Customers", [make_contact(site.account_id)])
    campaign_id, data = draft(auth, site, [customers.id])
    when = (utcnow() + timedelta(days=10)).replace(month=1, day=15, hour=9, minute=0, second=0, microsecond=0)
    if when < utcnow():
        when = when.replace(year=when.year + 1)
    typed = when.strftime("%Y-%m-%dT%H:%M")
    auth.client.post(f"/campaigns/{campaign_id}/send", data={**data, "when": "later", "scheduled_at": typed},
                     headers=HX)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).scheduled_at == when - timedelta(hours=1)  # CET is UTC+1
    editor = auth.client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert when.strftime("%Y-%m-%dT%H:%M") in editor and "At (Europe/Paris)" in editor
    assert f"{when:%Y-%m-%d} 09:00 CET" in editor


def test_a_wait_until_a_time_of_day_is_in_the_accounts_zone(site, contact):
    set_zone(site, "America/New_York")
    until_nine = {"kind": "delay", "amount": 0, "unit": "days", "at": "09:00"}
    # 10:00 in New York: the next 09:00 is tomorrow's (14:00 UTC).
    assert schema.wake_time(until_nine, at(2026, 12, 3, 15, 0), "America/New_York") == at(2026, 12, 4, 14, 0)
    # 08:00 there, one day, then 09:00: an hour after the day.
    day_then_nine = {**until_nine, "amount": 1}
    assert schema.wake_time(day_then_nine, at(2026, 12, 3, 13, 0), "America/New_York") == \
        at(2026, 12, 4, 14, 0)
    # Across the clocks going forward (8 March 2026 there), 09:00 is still 09:00 on the wall: 13:00 UTC.
    assert schema.wake_time(until_nine, at(2026, 3, 7, 15, 0), "America/New_York") == at(2026, 3, 8, 13, 0)

    item = automation(site, [{"id": "wait", **until_nine}, email(), end()])
    run = engine.enter(item, contact.id, advance_later=False)
    db.session.commit()
    engine.advance(run.id)
    db.session.rollback()
    waiting = db.session.get(AutomationRun, run.id)
    there = waiting.wake_at.astimezone(ZoneInfo("America/New_York"))
    assert (there.hour, there.minute) == (9, 0) and waiting.wake_at > utcnow()
    assert engine.journey(item, contact.id)[0]["outcome"].startswith(f"wait until {there:%Y-%m-%d} 09:00 E")


def test_the_wait_step_form_takes_a_time_of_day(auth, site):
    response = auth.client.post("/automations/")
    automation_id = int(response.headers["Location"].rsplit("/", 1)[1])
    auth.client.post(f"/automations/{automation_id}/steps", data={"kind": "delay"}, headers=HX)
    wait_id = db.session.get(Automation, automation_id).steps[0]["id"]
    saved = auth.client.post(f"/automations/{automation_id}/steps/{wait_id}",
                             data={"amount": "0", "unit": "days", "at": "9:30"}, headers=HX)
    assert saved.status_code == 200 and "Wait until 09:30" in saved.get_data(as_text=True)
    for data, message in (({"amount": "0", "unit": "days", "at": ""}, "Wait between 1 and 1,000"),
                          ({"amount": "2", "unit": "days", "at": "noon"}, "Enter the time of day as HH:MM")):
        refused = auth.client.post(f"/automations/{automation_id}/steps/{wait_id}", data=data, headers=HX)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    saved = auth.client.post(f"/automations/{automation_id}/steps/{wait_id}",
                             data={"amount": "2", "unit": "days", "at": "18:00"}, headers=HX)
    assert "Wait 2 days, then until 18:00" in saved.get_data(as_text=True)


def test_the_dashboard_counts_page_views_per_day_of_the_accounts_zone(site, contact):
    from app.models import PageView
    from app.tracking import reports

    def viewed(moment):
        db.session.add(PageView(event_id=f"tz-{moment:%d%H}", account_id=site.account_id, site_id=site.id,
                                contact_id=contact.id, visitor_id="v", host="www.shop.example",
                                url="https://www.shop.example/", path="/", received_at=moment))

    viewed(at(2026, 12, 3, 3, 0))   # 22:00 on the 2nd in New York, 04:00 on the 3rd in Paris
    viewed(at(2026, 12, 3, 12, 0))  # the 3rd everywhere
    db.session.commit()
    now = at(2026, 12, 3, 20, 0)
    new_york = reports.views_per_day(site.account_id, days=3, now=now, zone="America/New_York")
    paris = reports.views_per_day(site.account_id, days=3, now=now, zone="Europe/Paris")
    assert [(str(day.day), day.identified) for day in new_york] == [("2026-12-01", 0), ("2026-12-02", 1),
                                                                     ("2026-12-03", 1)]
    assert [(str(day.day), day.identified) for day in paris] == [("2026-12-01", 0), ("2026-12-02", 0),
                                                                  ("2026-12-03", 2)]


def test_a_late_time_missed_before_midnight_is_caught_up_the_next_day(site):
    late = make_contact(site.account_id, "late@customer.example", birthday="1990-12-03")
    item = birthday_path(site, at="23:58")
    item.updated_at = at(2026, 1, 1, 0, 0)  # active all year
    db.session.commit()
    assert started(at(2026, 12, 3, 23, 57)) == []
    assert started(at(2026, 12, 4, 0, 2)) == [("2026", late.id)]  # yesterday's, caught up
    assert started(at(2026, 12, 4, 0, 7)) == []


def test_no_catching_up_for_an_automation_activated_since(site):
    make_contact(site.account_id, "late@customer.example", birthday="1990-12-03")
    item = birthday_path(site, at="20:00")
    item.updated_at = at(2026, 12, 3, 22, 0)  # activated after yesterday's 20:00
    db.session.commit()
    assert started(at(2026, 12, 4, 8, 0)) == []


def test_far_or_impossible_send_times_are_refused_in_words(auth, site):
    db.session.get(Account, site.account_id).time_zone = "Asia/Tokyo"  # (ahead of UTC)
    db.session.commit()
    customers = make_list(site.account_id, "Customers", [make_contact(site.account_id)])
    campaign_id, data = draft(auth, site, [customers.id])
    for typed, message in (("0001-01-01T00:00", "Enter the date and time as YYYY-MM-DD HH:MM (Asia/Tokyo)"),
                           ("9999-12-31T23:59", "Choose a time within the next five years.")):
        refused = auth.client.post(f"/campaigns/{campaign_id}/confirm-send",
                                   data={**data, "when": "later", "scheduled_at": typed}, headers=HX)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True), typed
    assert timezones.shown(datetime(9999, 12, 31, 23, 30, tzinfo=timezone.utc), "Europe/Paris") == \
        "9999-12-31 23:30 UTC"  # (beyond what a datetime holds east of UTC: shown in UTC)
    with pytest.raises(AutomationError, match="HH:MM"):
        schema.check_trigger({"type": "date", "field": "birthday", "offset_days": 0, "time": "0\u0669:30"},
                             engine.ids_for(site.account_id))
