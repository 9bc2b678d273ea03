"""Bad input to the booking pages, the manage page and the availability API: a 4xx with a message
a person can act on, never a 500, and nothing saved or changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment, Location
from bookings.selectors import BookingRequestError, booking_window_check, local_date, utc
from bookings.services.booking import appointment_book
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from bookings.tokens import booking_token_make
from clients.models import Client, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
API = reverse("bookings:api_availability")
# Year 1 at midnight is year 0 in London (LMT, UTC-0:01:15), and 9999-12-31 late at a negative
# offset is year 10000 in UTC: both overflowed astimezone() into a 500.
CALENDAR_ENDS = ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:00"]


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=0, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester")
    technician_working(location=location)
    return location


@pytest.fixture
def booked(location):
    start = NOW + timedelta(days=10)
    return AppointmentFactory(
        technician=location.technicians.get(),
        location=location,
        start=start,
        end=start + timedelta(minutes=45),
        kind="consultation",
    )


@pytest.mark.parametrize("start", CALENDAR_ENDS)
def test_a_booking_at_the_calendars_ends_is_a_400_with_a_message_and_saves_nothing(client, location, start):
    data = {
        "location": "manchester",
        "start": start,
        "first_name": "Sam",
        "last_name": "Taylor",
        "email": "sam@example.com",
        "phone": "07700 900123",
        "health_consent": "on",
        "date_of_birth": "1985-03-14",
    }
    response = client.post(reverse("bookings:book"), data)
    assert response.status_code == 400
    assert "Choose a time within 5 years of today." in response.content.decode()
    assert not Appointment.objects.exists()
    assert not Client.objects.exists()


@pytest.mark.parametrize("start", CALENDAR_ENDS)
def test_moving_a_booking_to_the_calendars_ends_is_a_400_and_keeps_the_booking(client, booked, start):
    url = reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=booked)})
    response = client.post(url, {"action": "reschedule", "start": start})
    assert response.status_code == 400
    assert "Choose a time within 5 years of today." in response.content.decode()
    kept = Appointment.objects.get()
    assert (kept.start, kept.end, kept.status) == (booked.start, booked.end, booked.status)


def test_a_null_character_in_a_booking_form_is_a_400_naming_the_field(client, location):
    response = client.post(
        reverse("bookings:book"),
        {"location": "manchester", "start": "2026-11-10T09:00:00+00:00", "first_name": "S\x00m"},
    )
    assert response.status_code == 400
    assert "first_name must not contain a null character" in response.content.decode()
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:00"])
def test_the_booking_service_refuses_a_time_at_the_calendars_ends_before_converting_it(location, instant):
    with pytest.raises(BookingRequestError) as caught:
        appointment_book(
            client=ClientFactory(),
            location=location,
            kind=Appointment.Kind.CONSULTATION,
            start=datetime.fromisoformat(instant),
            channel=Appointment.Channel.PHONE,
        )
    assert caught.value.field == "start"
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:00"])
def test_local_date_and_utc_raise_a_booking_error_not_an_overflow(instant):
    moment = datetime.fromisoformat(instant)
    with pytest.raises(BookingRequestError):
        local_date(moment, Location(time_zone="America/New_York"))
    with pytest.raises(BookingRequestError):
        utc(moment)


def test_the_booking_window_is_five_years_either_side_of_now():
    booking_window_check(instant=NOW + timedelta(days=5 * 365))
    booking_window_check(instant=NOW - timedelta(days=5 * 365))
    with pytest.raises(BookingRequestError, match="within 5 years"):
        booking_window_check(instant=NOW + timedelta(days=5 * 366 + 1))
    with pytest.raises(BookingRequestError, match="time zone"):
        booking_window_check(instant=datetime(2026, 11, 10, 9))


@pytest.mark.parametrize(
    ("params", "parameter", "message"),
    [
        ({"location": "manchester", "start": "0001-01-01"}, "start", "start must be within 5 years of today."),
        ({"location": "manchester", "start": "99999-01-01"}, "start", "start must be a date as YYYY-MM-DD."),
        ({"location": "manchester", "days": "99999999999999999999"}, "days", "days must be between 1 and 92."),
        ({"location": "manchester", "length_minutes": "5"}, "length_minutes", "between 15 minutes and 12 hours"),
        ({"location": "manchester", "technician": "99999999999999999999"}, "technician", "No technician"),
        ({"location": "manchester", "kind": "\u00e9"}, "kind", "kind must be one of"),
        ({"location": "man\x00chester"}, "location", "must not contain a null character"),
        ({"location": "manchester", "start\x00": "x"}, "start", "must not contain a null character"),
    ],
)
def test_the_api_answers_bad_parameters_with_a_400_json_naming_the_field(client, location, params, parameter, message):
    response = client.get(API, params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["parameter"] == parameter
    assert message in body["error"]["message"]
    assert message in " ".join(body["errors"][parameter])


def test_the_api_lists_every_bad_field_at_once(client, location):
    response = client.get(API, {"location": "nowhere", "days": "0", "start": "soon"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"location", "days", "start"}
    assert response.json()["errors"]["location"] == ["No clinic has the slug 'nowhere'."]
