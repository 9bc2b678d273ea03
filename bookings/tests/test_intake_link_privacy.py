"""The intake page shows a client's medical answers again: no browser or shared cache keeps it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory
from bookings.tokens import intake_token_make
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
