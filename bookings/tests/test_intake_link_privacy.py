"""The intake page and the booking pages behind a signed link show a client's own details: no
browser or shared cache keeps them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory
from bookings.tokens import booking_token_make, intake_token_make
from clients.models import Intake

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 10, 10, 30, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_intake_page_with_saved_answers_is_never_stored(client):
    start = NOW + timedelta(days=10)
    consultation = AppointmentFactory(
        kind=Appointment.Kind.CONSULTATION, start=start, end=start + timedelta(minutes=45)
    )
    Intake.objects.create(
        client=consultation.client, appointment=consultation, allergies="Nickel and latex", completed_at=NOW
    )

    response = client.get(reverse("bookings:intake", kwargs={"token": intake_token_make(appointment=consultation)}))

    assert response.status_code == 200
    assert "Nickel and latex" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize("page", ["bookings:booked", "bookings:manage"])
def test_the_booking_pages_behind_a_signed_link_are_never_stored(client, page):
    start = NOW + timedelta(days=10)
    booking = AppointmentFactory(kind=Appointment.Kind.CONSULTATION, start=start, end=start + timedelta(minutes=45))

    response = client.get(reverse(page, kwargs={"token": booking_token_make(appointment=booking)}))

    assert response.status_code == 200
    assert booking.reference in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
