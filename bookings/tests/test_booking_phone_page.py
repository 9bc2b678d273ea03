"""/book/ on a phone: the first free time first, one day at a time in groups, a jump to any
date, and a time that couldn't then be changed online is marked and confirmed before booking."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from bookings.models import Appointment
from bookings.selectors import booking_policy_for
from bookings.services.booking import ChangeWindowNotAccepted, online_consultation_book
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from clients.models import ConsentWording
from clients.tests.factories import ConsentWordingFactory

pytestmark = pytest.mark.django_db
BOOK = reverse("bookings:book")
# Monday 2 November 2026, 08:00 in London (GMT): 12 hours' notice makes tomorrow the first day.
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
# The same Monday at 16:00: tomorrow morning is then less than 24 hours away.
LATE_NOW = datetime(2026, 11, 2, 16, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester", name="Manchester", phone="0161 496 0000")
    technician_working(location=location, end=time(20))
    return location


def _radios(html: str) -> list[str]:
    import re

    return re.findall(r'name="start" id="(t-[a-z0-9-]+)" value="([^"]+)"', html)


@pytest.mark.parametrize("extra_technicians", [0, 4])
def test_the_page_shows_the_first_free_time_then_its_day_in_groups_in_constant_queries(
    client, location, django_assert_max_num_queries, extra_technicians
):
    for _ in range(extra_technicians):
        tech = technician_working(location=location)
        for day in range(3, 10):
            AppointmentFactory(technician=tech, location=location, start=datetime(2026, 11, day, 11, tzinfo=UTC))
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(12):
        response = client.get(BOOK, {"location": "manchester"})
    assert response.status_code == 200
    context = response.context
    assert context["first"]["start"] == "2026-11-03T09:00:00+00:00"
    assert context["day"] == date(2026, 11, 3)
    assert [g["key"] for g in context["groups"]] == ["morning", "afternoon", "evening"]
    morning, afternoon, evening = (g["times"] for g in context["groups"])
    assert (morning[0]["label"], morning[-1]["label"]) == ("09:00", "11:45")
    assert (afternoon[0]["label"], afternoon[-1]["label"]) == ("12:00", "16:45")
    assert (evening[0]["label"], evening[-1]["label"]) == ("17:00", "19:15")
    html = response.content.decode()
    assert "First available time" in html
    assert "Tue 3 Nov, 09:00" in html
    assert '<legend class="h6 mb-2">Tuesday 3 November</legend>' in html
    # One day only: nothing from Wednesday on the page, which links to it instead.
    assert not any(value.startswith("2026-11-04") for _, value in _radios(html))
    assert context["next_day"] == date(2026, 11, 4)
    assert context["previous_day"] is None  # today has no free time left
    assert 'id="next-day" href="?location=manchester&amp;treatment=&amp;start=2026-11-04"' in html


def test_the_times_are_the_availability_engines_own(client, location):
    """The page and the API answer from the same engine: the same free starts for a day."""
    with time_machine.travel(NOW, tick=False):
        page = client.get(BOOK, {"location": "manchester", "start": "2026-11-10"})
        api = client.get(
            reverse("bookings:api_availability"), {"location": "manchester", "start": "2026-11-10", "days": 1}
        )
    shown = [t["start"] for g in page.context["groups"] for t in g["times"]]
    assert shown == [t["start"] for t in api.json()["days"][0]["times"]]
    assert len(shown) == 42  # 09:00 to 19:15, every 15 minutes


def test_a_date_jumps_to_that_day_with_links_to_the_free_days_either_side(client, location):
    with time_machine.travel(NOW, tick=False):
        response = client.get(BOOK, {"location": "manchester", "start": "2026-12-01"})
    assert response.status_code == 200
    assert response.context["day"] == date(2026, 12, 1)
    assert response.context["previous_day"] == date(2026, 11, 30)
    assert response.context["next_day"] == date(2026, 12, 2)
    html = response.content.decode()
    assert "Tuesday 1 December" in html
    assert 'value="2026-12-01T09:00:00+00:00"' in html
    # The first free time still leads the page.
    assert 'value="2026-11-03T09:00:00+00:00"' in html


def test_a_date_in_the_past_shows_today_and_a_nonsense_one_gets_a_clear_message(client, location):
    with time_machine.travel(NOW, tick=False):
        past = client.get(BOOK, {"location": "manchester", "start": "2020-01-01"})
        nonsense = client.get(BOOK, {"location": "manchester", "start": "not-a-date"})
    assert past.status_code == 200
    assert past.context["day"] == date(2026, 11, 2)
    assert b"No free times this day." in past.content
    assert nonsense.status_code == 200
    assert b"Enter a valid date." in nonsense.content


def test_a_day_off_skips_to_the_next_free_day(client, location):
    from bookings.tests.factories import ClosureFactory

    ClosureFactory(location=location, start_date=date(2026, 11, 4), end_date=date(2026, 11, 6))
    with time_machine.travel(NOW, tick=False):
        response = client.get(BOOK, {"location": "manchester", "start": "2026-11-03"})
    assert response.context["next_day"] == date(2026, 11, 7)


def test_times_inside_the_change_window_are_marked_with_the_notice(client, location):
    with time_machine.travel(LATE_NOW, tick=False):
        response = client.get(BOOK, {"location": "manchester", "start": "2026-11-03"})
    morning = response.context["groups"][0]["times"]
    # 16:00 Monday + 24 hours: Tuesday before 16:00 can't be changed online once booked.
    late = [t["label"] for g in response.context["groups"] for t in g["times"] if t["late"]]
    assert (late[0], late[-1]) == ("09:00", "15:45")
    assert morning[0]["late"]
    html = response.content.decode()
    assert 'id="late-notice"' in html
    assert "less than 24 hours away: once booked they can't be moved or cancelled online" in html
    assert "0161 496 0000" in html
    assert 'data-late="1"' in html
    assert html.count("no online changes") >= len(late)


def _post(client, **overrides):
    data = {
        "location": "manchester",
        "treatment": "",
        "start": "2026-11-03T09:00:00+00:00",
        "first_name": "Sam",
        "last_name": "Taylor",
        "email": "sam@example.com",
        "phone": "07700 900123",
        "health_consent": "on",
        "date_of_birth": "1985-03-14",
        **overrides,
    }
    return client.post(BOOK, data)


def test_booking_a_time_inside_the_change_window_asks_to_confirm_the_notice_first(client, location):
    with time_machine.travel(LATE_NOW, tick=False):
        first = _post(client)
        assert first.status_code == 200
        assert not Appointment.objects.exists()
        html = first.content.decode()
        assert 'id="change-window-notice"' in html
        assert "can&#x27;t be moved or cancelled online" in html
        assert "Tuesday 3 November 2026, 09:00" in html
        assert 'name="late_change_accepted" value="on"' in html
        assert 'name="email" value="sam@example.com"' in html
        confirmed = _post(client, late_change_accepted="on")
    assert confirmed.status_code == 302
    assert Appointment.objects.get().start == datetime(2026, 11, 3, 9, tzinfo=UTC)


def test_a_time_outside_the_change_window_books_at_once(client, location):
    with time_machine.travel(LATE_NOW, tick=False):
        response = _post(client, start="2026-11-03T16:00:00+00:00")
    assert response.status_code == 302
    assert Appointment.objects.count() == 1


def test_the_service_refuses_an_unconfirmed_booking_inside_the_change_window(location):
    with time_machine.travel(LATE_NOW, tick=False), pytest.raises(ChangeWindowNotAccepted) as refused:
        online_consultation_book(
            location=location,
            start=datetime(2026, 11, 3, 9, tzinfo=UTC),
            treatment=None,
            first_name="Sam",
            last_name="Taylor",
            email="sam@example.com",
            phone="+447700900123",
            description="",
            health_consent=True,
            marketing_opt_in=False,
            policy=booking_policy_for(location),
        )
    assert refused.value.field == "late_change_accepted"
    assert not Appointment.objects.exists()


def test_no_free_time_at_all_offers_the_waiting_list(client, location):
    from bookings.tests.factories import ClosureFactory

    ClosureFactory(location=location, start_date=date(2026, 11, 1), end_date=date(2027, 3, 1))
    with time_machine.travel(NOW, tick=False):
        response = client.get(BOOK, {"location": "manchester"})
    html = response.content.decode()
    assert 'id="no-times"' in html
    assert reverse("bookings:waitlist_join") + "?location=manchester" in html
