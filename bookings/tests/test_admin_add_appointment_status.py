"""Adding an appointment in the admin as completed or cancelled: saved with its time stamp (and, when
completed, its aftercare), or refused with a message; never an IntegrityError 500."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from bookings.tests.test_booking_admin import _post_add
from clients.tests.factories import ClientFactory
from smpclinic.tests.logins import login_as
from treatments.tests.factories import TreatmentFactory

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 17, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("boss", "boss@smpclinic.example", "a-long-test-password")
    login_as(client, user)
    return client


@pytest.fixture
def booking():
    BookingPolicyFactory()
    location = LocationFactory()
    tech = technician_working(location=location)
    return {"client": ClientFactory().pk, "technician": tech.pk, "location": location.pk}


def test_a_session_recorded_as_completed_is_saved_with_its_aftercare(staff, booking):
    start = datetime.combine(NOW.date() - timedelta(days=1), time(10), tzinfo=LONDON)
    response = _post_add(
        staff,
        **booking,
        kind="touch_up",
        treatment=TreatmentFactory().pk,
        status="completed",
        start=start,
        end=start + timedelta(hours=2),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    appointment = Appointment.objects.get()
    assert appointment.status == Appointment.Status.COMPLETED
    assert appointment.completed_at == NOW
    kinds = set(ClientMessage.objects.filter(appointment=appointment).values_list("kind", flat=True))
    assert {"aftercare_day4", "aftercare_day7", "aftercare_day10"} <= kinds


def test_a_future_appointment_cannot_be_added_as_completed(staff, booking):
    start = datetime.combine(NOW.date() + timedelta(days=3), time(10), tzinfo=LONDON)
    response = _post_add(
        staff, **booking, kind="consultation", status="completed", start=start, end=start + timedelta(minutes=45)
    )
    assert response.status_code == 200
    assert "cannot be completed before it has started" in response.content.decode()
    assert not Appointment.objects.exists()


def test_an_appointment_added_as_cancelled_is_saved_with_its_cancellation_time(staff, booking):
    start = datetime.combine(NOW.date() + timedelta(days=3), time(10), tzinfo=LONDON)
    response = _post_add(
        staff, **booking, kind="consultation", status="cancelled", start=start, end=start + timedelta(minutes=45)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    appointment = Appointment.objects.get()
    assert (appointment.status, appointment.cancelled_at) == (Appointment.Status.CANCELLED, NOW)
    assert reverse("admin:bookings_appointment_changelist") in response["Location"]
