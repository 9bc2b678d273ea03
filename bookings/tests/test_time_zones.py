"""Each location keeps its own clock: slots, pages, the API and client messages are in the
location's zone. New York's clocks change on different dates from London's (second Sunday of
March, first Sunday of November), so a New York location caught on London's clock would show
times an hour out on the days between, and a whole five hours out everywhere else."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from bookings.availability import Rules, TechnicianSchedule, WeeklyTime, free_slots
from bookings.models import Appointment, ClientMessage, Location
from bookings.selectors import availability_compute
from bookings.services.ics import message_ics
from bookings.services.messaging import message_context, message_render
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    ClientMessageFactory,
    LocationFactory,
    technician_working,
)
from smpclinic.tests.logins import login_as

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
M = ClientMessage.Kind
NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)  # before every day these tests book

# New York's clock changes in 2026, and London's, which New York does not share.
NY_SPRING, NY_AUTUMN = date(2026, 3, 8), date(2026, 11, 1)
LONDON_SPRING, LONDON_AUTUMN = date(2026, 3, 29), date(2026, 10, 25)


@pytest.fixture
def new_york(db):
    BookingPolicyFactory(minimum_notice_hours=0, buffer_after_minutes=0, horizon_days=366)
    return LocationFactory(slug="new-york", name="New York", time_zone="America/New_York")


# The zone field ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_location_starts_in_the_clinic_default_zone(settings):
    assert LocationFactory(slug="a").time_zone == "Europe/London"
    settings.CLINIC_TIME_ZONE = "Europe/Dublin"
    dublin = LocationFactory(slug="b")
    assert dublin.time_zone == "Europe/Dublin"
    assert dublin.tz == ZoneInfo("Europe/Dublin")
    assert dublin.time_zone_label == "Dublin time"


@pytest.mark.django_db
def test_an_unknown_time_zone_is_refused_with_a_code():
    location = LocationFactory.build(slug="nowhere", time_zone="Europe/Atlantis")
    with pytest.raises(ValidationError) as exc:
        location.full_clean()
    assert exc.value.error_dict["time_zone"][0].code == "unknown_time_zone"


# Slots -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "offset_hours"),
    [
        (NY_SPRING - timedelta(days=1), -5),
        (NY_SPRING, -4),
        (LONDON_SPRING, -4),
        (LONDON_AUTUMN, -4),
        (NY_AUTUMN, -5),
    ],
    ids=["ny-before-spring", "ny-spring", "london-spring", "london-autumn", "ny-autumn"],
)
def test_new_york_slots_run_nine_to_five_on_new_york_clocks(new_york, day, offset_hours):
    technician_working(location=new_york)
    with time_machine.travel(NOW, tick=False):
        slots = availability_compute(location=new_york, kind=Appointment.Kind.CONSULTATION, start_date=day, days=1)[day]
    first, last = slots[0], slots[-1]
    assert first.start.astimezone(NEW_YORK).time() == time(9)
    assert last.end.astimezone(NEW_YORK).time() == time(17)
    # 09:00 New York is 13:00 or 14:00 UTC, never London's 09:00 and never an hour out.
    assert first.start == datetime.combine(day, time(9), tzinfo=UTC) - timedelta(hours=offset_hours)
    assert all(s.start.astimezone(NEW_YORK).date() == day for s in slots)


@pytest.mark.django_db
def test_a_london_location_is_unchanged_on_new_york_clock_change_days(new_york):
    london = LocationFactory(slug="manchester")
    technician_working(location=london)
    with time_machine.travel(NOW, tick=False):
        slots = availability_compute(location=london, kind=Appointment.Kind.CONSULTATION, start_date=NY_SPRING, days=1)
    assert slots[NY_SPRING][0].start == datetime(2026, 3, 8, 9, tzinfo=UTC)  # GMT: London is on UTC
    assert slots[NY_SPRING][-1].end.astimezone(LONDON).time() == time(17)


def _night_shift(day: date, start: time, end: time) -> list:
    schedule = TechnicianSchedule(1, working_hours=[WeeklyTime(day.weekday(), start, end)])
    rules = Rules(length=timedelta(hours=1), step=timedelta(hours=1), tz=NEW_YORK)
    return [
        s.start.astimezone(NEW_YORK) for s in free_slots(schedules=[schedule], start_date=day, days=1, rules=rules)[day]
    ]


def test_a_new_york_shift_across_the_spring_gap_starts_when_the_clocks_read_three():
    # 02:00-03:00 does not exist in New York on 8 March 2026: a shift from 02:30 starts at 03:00.
    starts = _night_shift(NY_SPRING, time(2, 30), time(6))
    assert [f"{s:%H:%M%z}" for s in starts] == ["03:00-0400", "04:00-0400", "05:00-0400"]


def test_a_new_york_shift_across_the_autumn_overlap_covers_the_repeated_hour():
    # 01:00-02:00 happens twice in New York on 1 November 2026: a 00:00-03:00 shift lasts four hours.
    starts = _night_shift(NY_AUTUMN, time(0), time(3))
    assert [f"{s:%H:%M%z}" for s in starts] == ["00:00-0400", "01:00-0400", "01:00-0500", "02:00-0500"]


# Pages and the API -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_reports_the_location_zone_and_its_offsets(client, new_york):
    technician_working(location=new_york)
    with time_machine.travel(NOW, tick=False):
        response = client.get(
            reverse("bookings:api_availability"),
            {"location": "new-york", "start": (NY_SPRING - timedelta(days=1)).isoformat(), "days": 2},
        )
    body = response.json()
    assert body["timezone"] == "America/New_York"
    assert body["days"][0]["times"][0]["start"] == "2026-03-07T09:00:00-05:00"
    assert body["days"][1]["times"][0]["start"] == "2026-03-08T09:00:00-04:00"


@pytest.mark.django_db
def test_the_api_still_reports_london_for_a_london_location(client, new_york):
    technician_working(location=LocationFactory(slug="manchester"))
    with time_machine.travel(NOW, tick=False):
        body = client.get(
            reverse("bookings:api_availability"), {"location": "manchester", "start": "2026-07-01"}
        ).json()
    assert body["timezone"] == "Europe/London"
    assert body["days"][0]["times"][0]["start"] == "2026-07-01T09:00:00+01:00"


@pytest.mark.django_db
def test_the_booking_page_offers_new_york_times_in_new_york_time(client, new_york):
    technician_working(location=new_york)
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("bookings:book"), {"location": "new-york", "start": NY_SPRING.isoformat()})
    html = response.content.decode()
    assert "Times are New York time." in html
    assert 'value="2026-03-08T09:00:00-04:00"' in html
    assert response.context["groups"][0]["times"][0]["label"] == "09:00"


@pytest.mark.django_db
def test_today_on_the_booking_page_is_new_york_today(client, new_york):
    technician_working(location=new_york)
    # 02:00 UTC on 10 March: already the 10th in London, still the 9th in New York.
    with time_machine.travel(datetime(2026, 3, 10, 2, tzinfo=UTC), tick=False):
        response = client.get(reverse("bookings:book"), {"location": "new-york"})
    assert response.context["today"] == date(2026, 3, 9)


@pytest.mark.django_db
def test_the_confirmation_and_its_calendar_file_carry_new_york_time(new_york):
    start = datetime(2026, 3, 9, 10, tzinfo=NEW_YORK)
    message = ClientMessageFactory(
        appointment=AppointmentFactory(location=new_york, start=start, end=start + timedelta(minutes=45)),
        kind=M.CONFIRMATION,
        due_at=NOW,
    )
    rendered = message_render(message)
    assert "Monday 9 March 2026, 10:00 to 10:45 (New York time)" in rendered["text"]
    content, _ = message_ics(message=message, manage_url="https://example.test/m/", now=NOW)
    ics = content.decode()
    assert "X-WR-TIMEZONE:America/New_York" in ics
    assert "DTSTART:20260309T140000Z" in ics  # UTC instants, as before


# Client messages -------------------------------------------------------------------------


def _completed_session(location: Location, start: datetime) -> Appointment:
    from bookings.services.appointments import appointment_complete
    from clients.tests.factories import staff_user

    appointment = AppointmentFactory(
        location=location, kind=Appointment.Kind.TREATMENT_SESSION, start=start, end=start + timedelta(hours=3)
    )
    with time_machine.travel(appointment.end, tick=False):
        return appointment_complete(appointment=appointment, by=staff_user(role="Manager"))


def _aftercare_due(appointment: Appointment) -> dict[str, datetime]:
    aftercare = [M.AFTERCARE_DAY_4, M.AFTERCARE_DAY_7, M.AFTERCARE_DAY_10]
    rows = ClientMessage.objects.filter(appointment=appointment, kind__in=aftercare)
    return {r.kind: r.due_at.astimezone(UTC) for r in rows}


@pytest.mark.django_db
def test_new_york_aftercare_goes_at_nine_new_york_time_across_its_clock_change(new_york):
    # Sunday 25 October (London's change, not New York's) 10:00 New York: day 4 is Thursday 29th
    # (EDT), day 7 is Sunday 1 November, New York's change day (EST from 02:00), day 10 the 4th.
    appointment = _completed_session(new_york, datetime(2026, 10, 25, 10, tzinfo=NEW_YORK))
    assert _aftercare_due(appointment) == {
        M.AFTERCARE_DAY_4: datetime(2026, 10, 29, 13, tzinfo=UTC),
        M.AFTERCARE_DAY_7: datetime(2026, 11, 1, 14, tzinfo=UTC),
        M.AFTERCARE_DAY_10: datetime(2026, 11, 4, 14, tzinfo=UTC),
    }


@pytest.mark.django_db
def test_new_york_aftercare_days_count_new_york_calendar_days(new_york):
    # 21:00 on 21 October in New York is already the 22nd in London and UTC: day 4 is still the 25th.
    appointment = _completed_session(new_york, datetime(2026, 10, 21, 21, tzinfo=NEW_YORK))
    assert _aftercare_due(appointment)[M.AFTERCARE_DAY_4] == datetime(2026, 10, 25, 13, tzinfo=UTC)


@pytest.mark.django_db
def test_london_aftercare_is_unchanged(new_york):
    appointment = _completed_session(LocationFactory(slug="manchester"), datetime(2026, 10, 21, 10, tzinfo=LONDON))
    assert _aftercare_due(appointment)[M.AFTERCARE_DAY_4] == datetime(2026, 10, 25, 9, tzinfo=UTC)  # GMT again


@pytest.mark.django_db
def test_a_message_about_a_new_york_appointment_gives_new_york_date_and_time(new_york):
    start = datetime(2026, 11, 3, 20, 30, tzinfo=NEW_YORK)  # 01:30 UTC on the 4th
    reminder = ClientMessageFactory(
        appointment=AppointmentFactory(location=new_york, start=start, end=start + timedelta(minutes=45)),
        kind=M.REMINDER_48H,
    )
    context = message_context(reminder)
    assert context["appointment_time"] == "20:30"
    assert context["appointment_date"] == "Tuesday 3 November 2026"


# The admin --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_type_a_new_york_booking_on_new_york_clocks_in_the_admin(client, new_york):
    from django.contrib.auth import get_user_model

    from bookings.tests.test_booking_admin import _management_forms
    from clients.tests.factories import ClientFactory

    technician = technician_working(location=new_york)
    login_as(client, get_user_model().objects.create_superuser("boss", "boss@example.test", "a-long-password-1"))
    url = reverse("admin:bookings_appointment_add")
    with time_machine.travel(NOW, tick=False):
        data = _management_forms(client.get(url).content.decode())
        data.update(
            {
                "status": "booked",
                "channel": "phone",
                "kind": "consultation",
                "client": ClientFactory().pk,
                "technician": technician.pk,
                "location": new_york.pk,
                "start_0": "09/03/2026",
                "start_1": "10:00:00",
                "end_0": "09/03/2026",
                "end_1": "10:45:00",
            }
        )
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:2000]
        appointment = Appointment.objects.get()
        assert appointment.start == datetime(2026, 3, 9, 10, tzinfo=NEW_YORK)  # 14:00 UTC, not London's 10:00
        listing = client.get(reverse("admin:bookings_appointment_changelist")).content.decode()
    assert "09/03/2026 10:00 EDT" in listing
