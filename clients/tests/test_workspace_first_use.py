"""The technician's workspace tried as a new user would (issue 11, item 8).

Every date derives from the frozen `now`: Wednesday 10 June 2026, 10:30 in London."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory
from clients.tests.conftest import PASSWORD
from clients.tests.factories import PhotoFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def book(clinic, start: datetime, **kw) -> Appointment:
    if kw.get("status") == Appointment.Status.COMPLETED:
        kw.setdefault("completed_at", start)
    return AppointmentFactory(
        client=clinic["client"],
        technician=clinic["technician"],
        location=clinic["here"],
        start=start,
        end=start + timedelta(minutes=45),
        **kw,
    )


@pytest.fixture
def tech(client, clinic):
    assert client.login(username="tech", password=PASSWORD)
    return client


def day_at(frozen_now: datetime, days: int, hour: int) -> datetime:
    local = frozen_now.astimezone(LONDON) + timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def test_past_days_of_this_week_are_not_listed_as_later_this_week(tech, clinic, frozen_now):
    monday = book(clinic, day_at(frozen_now, -2, 11), status=Appointment.Status.COMPLETED)
    friday = book(clinic, day_at(frozen_now, 2, 11))
    response = tech.get(reverse("staff:schedule"))
    days = response.context["days"]
    assert days["earlier"] == [monday]
    assert days["later"] == [friday]
    body = response.content.decode()
    later = body[body.index("Later this week") : body.index("Earlier this week")]
    assert f"/staff/appointments/{friday.pk}/" in later
    assert f"/staff/appointments/{monday.pk}/" not in later


def test_the_schedule_pages_by_day_and_by_week(tech, clinic, frozen_now):
    tomorrow = book(clinic, day_at(frozen_now, 1, 11))
    next_week = book(clinic, day_at(frozen_now, 7, 11))
    day = tech.get(reverse("staff:schedule"), {"view": "day", "date": "2026-06-11"})
    assert day.status_code == 200
    assert day.context["everything"] == [tomorrow]
    body = day.content.decode()
    assert 'href="?view=day&amp;date=2026-06-10" rel="prev"' in body
    assert 'href="?view=day&amp;date=2026-06-12" rel="next"' in body
    assert 'href="?view=day&amp;date=2026-06-10"' in body  # today
    week = tech.get(reverse("staff:schedule"), {"view": "week", "date": "2026-06-17"})
    assert week.context["everything"] == [next_week]
    assert (week.context["first"].isoformat(), week.context["last"].isoformat()) == ("2026-06-15", "2026-06-21")
    assert 'href="?view=week&amp;date=2026-06-08" rel="prev"' in week.content.decode()
    assert 'href="?view=week&amp;date=2026-06-22" rel="next"' in week.content.decode()
    # The default is this week, with "Today" first.
    assert "Today, Wednesday 10 June" in tech.get(reverse("staff:schedule")).content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2026-13-01"},
        {"date": "not-a-date"},
        {"date": "99999-01-01"},
        {"date": "9999-12-31"},  # the last date there is: next week would overflow
        {"date": "2030-06-10"},  # well formed but years away
        {"date": "2026-06-10T10:00"},
        {"view": "month"},
    ],
)
def test_a_bad_or_far_schedule_date_is_a_400(tech, clinic, params):
    response = tech.get(reverse("staff:schedule"), params)
    assert response.status_code == 400


def test_the_schedule_stops_offering_a_way_beyond_its_reach(tech, clinic):
    response = tech.get(reverse("staff:schedule"), {"view": "day", "date": "2028-06-09"})
    assert response.status_code == 200
    assert response.context["next"] is None
    assert 'rel="next"' not in response.content.decode()


def test_a_past_appointment_still_marked_booked_is_flagged(tech, clinic, frozen_now):
    forgotten = book(clinic, day_at(frozen_now, -1, 11))  # yesterday, still booked
    confirmed = book(clinic, day_at(frozen_now, -1, 14), status=Appointment.Status.CONFIRMED)
    done = book(clinic, day_at(frozen_now, -1, 16), status=Appointment.Status.COMPLETED)
    response = tech.get(reverse("staff:schedule"))
    flagged = {a.pk for a in response.context["everything"] if a.overdue}
    assert flagged == {forgotten.pk, confirmed.pk}  # not the completed one, nor today's session under way
    assert done.pk not in flagged
    body = response.content.decode()
    assert "Still marked booked: complete it or mark a no-show." in body
    assert "Still marked confirmed: complete it or mark a no-show." in body
    page = tech.get(reverse("staff:appointment", args=[forgotten.pk])).content.decode()
    assert "still marked booked: complete it or mark a no-show" in page
    today = tech.get(reverse("staff:appointment", args=[clinic["session"].pk])).content.decode()
    assert 'id="still-open"' not in today


def test_last_sessions_notes_are_the_previous_sessions_even_right_after_saving_this_one(tech, clinic):
    url = reverse("staff:session_note", args=[clinic["session"].pk])
    data = {"areas": ["crown"], "depth": "standard", "duration_minutes": "180", "next_time_notes": "Written today"}
    assert tech.post(url, data).status_code == 302
    body = tech.get(reverse("staff:appointment", args=[clinic["session"].pk])).content.decode()
    glance = body[body.index('id="next-time-notes"') : body.index("</dd>", body.index('id="next-time-notes"'))]
    assert "Darken the crown slightly" in glance
    assert "Written today" not in glance
    # The client's own page (no appointment in hand) shows the latest note there is.
    record = tech.get(reverse("staff:client", args=[clinic["client"].pk])).context["record"]
    assert record.last_note.next_time_notes == "Written today"


def test_mark_completed_is_offered_only_when_the_service_would_accept_it(tech, clinic, frozen_now):
    tomorrow = book(clinic, day_at(frozen_now, 1, 11))
    done = book(clinic, day_at(frozen_now, -1, 11), status=Appointment.Status.COMPLETED)
    no_show = book(clinic, day_at(frozen_now, -1, 14), status=Appointment.Status.NO_SHOW)
    button = "Mark session completed"
    assert button in tech.get(reverse("staff:appointment", args=[clinic["session"].pk])).content.decode()
    for appointment in (tomorrow, done, no_show):
        assert button not in tech.get(reverse("staff:appointment", args=[appointment.pk])).content.decode()


def test_thumbnails_carry_a_visible_before_or_after_label(tech, clinic):
    PhotoFactory(client=clinic["client"], appointment=clinic["session"], angle="crown", phase="after")
    body = tech.get(reverse("staff:appointment", args=[clinic["session"].pk])).content.decode()
    assert '<figcaption class="staff-thumb-label"><strong>After</strong> · Crown</figcaption>' in body
    assert '<figcaption class="staff-thumb-label"><strong>Before</strong> · Front</figcaption>' in body


def test_the_staff_pages_leave_out_the_public_book_button(tech, clinic, client):
    body = tech.get(reverse("staff:schedule")).content.decode()
    assert "Book a free consultation" not in body
    assert reverse("bookings:book") not in body
    client.logout()
    assert "Book a free consultation" in client.get(reverse("treatments:home")).content.decode()
