"""Dates at the calendar's ends (year 1, year 9999) are bad input: a 400 or a form message, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from clients.models import ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=0)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester")
    technician_working(location=location)
    return location


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01", "2040-01-01"])
def test_the_api_answers_a_start_far_from_today_with_a_400_naming_start(client, location, start):
    response = client.get(reverse("bookings:api_availability"), {"location": "manchester", "start": start})
    assert response.status_code == 400
    assert response.json()["error"]["parameter"] == "start"


def test_the_api_still_answers_a_start_within_the_next_years(client, location):
    response = client.get(reverse("bookings:api_availability"), {"location": "manchester", "start": "2028-06-01"})
    assert response.status_code == 200


@pytest.mark.parametrize("start", ["9999-12-31T10:00:00+00:00", "0001-01-01T10:00:00+00:00"])
def test_a_booking_posted_for_year_9999_or_year_1_gets_a_message_not_a_500(client, location, start):
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
    assert "within 5 years" in response.content.decode()
    assert not Appointment.objects.exists()


def test_staff_adding_an_appointment_in_year_9999_get_a_form_error(client, location):
    user = get_user_model().objects.create_superuser("boss", "boss@smpclinic.example", "a-long-test-password")
    login_as(client, user)
    tech = location.technicians.get()
    url = reverse("admin:bookings_appointment_add")
    management = dict(
        re.findall(
            r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"',
            client.get(url).content.decode(),
        )
    )
    response = client.post(
        url,
        {
            **management,
            "kind": "consultation",
            "client": ClientFactory().pk,
            "technician": tech.pk,
            "location": location.pk,
            "status": "booked",
            "channel": "phone",
            "start_0": "31/12/9999",
            "start_1": "10:00:00",
            "end_0": "31/12/9999",
            "end_1": "10:45:00",
        },
    )
    assert response.status_code == 200
    assert "within 5 years" in response.content.decode()
    assert not Appointment.objects.exists()
