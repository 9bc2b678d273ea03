"""Editing an appointment in the admin keeps the services' rules: status changes write or withdraw
messages, and a clash is a message on the page, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.tests.factories import AppointmentFactory, LocationFactory, technician_working
from bookings.tests.test_booking_admin import _management_forms
from smpclinic.tests.logins import login_as
from treatments.tests.factories import TreatmentFactory

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 11, 10).date()


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("boss", "boss@smpclinic.example", "a-long-test-password")
    login_as(client, user)
    return client


def _post_change(staff, appointment: Appointment, **changes):
    url = reverse("admin:bookings_appointment_change", args=[appointment.pk])
    page = staff.get(url).content.decode()
    data = _management_forms(page)
    # The read-only messages inline still posts each row's id.
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="(messages-\d+-[\w]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and value:
            data[name.group(1)] = value.group(1)
    fields = {
        "kind": appointment.kind,
        "client": appointment.client_id,
        "technician": appointment.technician_id,
        "location": appointment.location_id,
        "treatment": appointment.treatment_id or "",
        "course": appointment.course_id or "",
        "session_number": appointment.session_number or "",
        "start": appointment.start,
        "end": appointment.end,
        "status": appointment.status,
        "channel": appointment.channel,
        "client_message": "",
        "staff_notes": "",
        **changes,
    }
    for key in ("start", "end"):
        local = fields.pop(key).astimezone(LONDON)
        fields[f"{key}_0"], fields[f"{key}_1"] = local.strftime("%d/%m/%Y"), local.strftime("%H:%M:%S")
    data.update(fields)
    return staff.post(url, data, follow=True)


@pytest.fixture
def session():
    location = LocationFactory()
    tech = technician_working(location=location)
    start = datetime.combine(DAY, time(10), tzinfo=LONDON)
    return AppointmentFactory(
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=TreatmentFactory(),
        technician=tech,
        location=location,
        start=start,
        end=start + timedelta(hours=3),
    )


def test_completing_in_the_admin_writes_the_three_aftercare_messages(staff, session):
    with time_machine.travel(datetime(2026, 11, 10, 15, tzinfo=UTC), tick=False):
        response = _post_change(staff, session, status="completed")
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.status == "completed"
    assert session.completed_at is not None
    kinds = set(ClientMessage.objects.filter(appointment=session, status="pending").values_list("kind", flat=True))
    assert {"aftercare_day4", "aftercare_day7", "aftercare_day10"} <= kinds


def test_cancelling_in_the_admin_withdraws_pending_messages(staff, session):
    with time_machine.travel(datetime(2026, 11, 10, 15, tzinfo=UTC), tick=False):
        _post_change(staff, session, status="completed")
        session.refresh_from_db()
        _post_change(staff, session, status="booked")
    session.refresh_from_db()
    assert session.status == "booked"
    assert session.completed_at is None
    assert not ClientMessage.objects.filter(
        appointment=session, status="pending", kind__startswith="aftercare"
    ).exists()


def test_completing_a_future_appointment_is_refused_with_a_message(staff, session):
    with time_machine.travel(datetime(2026, 11, 1, 9, tzinfo=UTC), tick=False):
        response = _post_change(staff, session, status="completed")
    assert response.status_code == 200
    assert "cannot be completed before it has started" in response.content.decode()
    session.refresh_from_db()
    assert session.status == "booked"


def test_reviving_a_cancelled_appointment_into_a_taken_time_is_a_message_not_a_500(staff, session, postgres):
    Appointment.objects.filter(pk=session.pk).update(status="cancelled", cancelled_at=datetime(2026, 11, 1, tzinfo=UTC))
    AppointmentFactory(technician=session.technician, location=session.location, start=session.start, end=session.end)
    session.refresh_from_db()
    with time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=UTC), tick=False):
        response = _post_change(staff, session, status="booked")
    assert response.status_code == 200
    page = response.content.decode()
    assert "has since been given to another appointment" in page
    session.refresh_from_db()
    assert session.status == "cancelled"
