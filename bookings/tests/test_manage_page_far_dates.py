"""The manage page with an edited ?start= or a far-off move: a page with a message, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from bookings.tokens import booking_token_make

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manage_url():
    BookingPolicyFactory(minimum_notice_hours=0, change_notice_hours=24)
    location = LocationFactory(slug="manchester")
    tech = technician_working(location=location)
    start = NOW + timedelta(days=10)
    appointment = AppointmentFactory(
        technician=tech, location=location, start=start, end=start + timedelta(minutes=45), kind="consultation"
    )
    return reverse("bookings:manage", kwargs={"token": booking_token_make(appointment=appointment)})


@pytest.mark.parametrize("start", ["9999-12-31", "2099-01-01"])
def test_the_manage_page_with_a_far_off_start_shows_times_up_to_a_year_ahead(client, manage_url, start):
    response = client.get(manage_url, {"start": start})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Wednesday 3 November" in html  # the first day shown: today + 366 days
    assert "start=2027-10-27" in html  # and the way back


def test_moving_a_booking_to_year_9999_is_refused_with_a_message(client, manage_url):
    before = Appointment.objects.get().start
    response = client.post(manage_url, {"action": "reschedule", "start": "9999-12-31T10:00:00+00:00"})
    assert response.status_code == 400
    assert "within 5 years" in response.content.decode()
    assert Appointment.objects.get().start == before
