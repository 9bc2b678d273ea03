"""Staff book in the admin with the same engine, and edit the booking policy there."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings.models import Appointment, BookingPolicy
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from clients.tests.factories import ClientFactory
from smpclinic.tests.logins import login_as

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 12, 1).date()


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2026, 11, 2, 8, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("boss", "boss@smpclinic.example", "a-long-test-password")
    login_as(client, user)
    return client


def _management_forms(html: str) -> dict:
    return dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"', html))


def _post_add(staff, **fields):
    url = reverse("admin:bookings_appointment_add")
    data = _management_forms(staff.get(url).content.decode())
    data.update({"status": "booked", "channel": "phone", **fields})
    for key in ("start", "end"):
        if key in data:
            local = data.pop(key).astimezone(LONDON)
            data[f"{key}_0"], data[f"{key}_1"] = local.strftime("%d/%m/%Y"), local.strftime("%H:%M:%S")
    return staff.post(url, data)


def test_staff_book_a_free_time_through_the_service(staff):
    BookingPolicyFactory()
    location = LocationFactory()
    tech = technician_working(location=location)
    client_record = ClientFactory()
    start = datetime.combine(DAY, time(10), tzinfo=LONDON)
    response = _post_add(
        staff,
        kind="consultation",
        client=client_record.pk,
        technician=tech.pk,
        location=location.pk,
        start=start,
        end=start.replace(minute=45),
        staff_notes="Booked by phone.",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    appointment = Appointment.objects.get()
    assert appointment.start == start
    assert appointment.channel == "phone"
    assert appointment.staff_notes == "Booked by phone."


def test_staff_cannot_book_over_another_appointment_or_outside_hours(staff):
    BookingPolicyFactory(buffer_after_minutes=15)
    location = LocationFactory()
    tech = technician_working(location=location)
    AppointmentFactory(technician=tech, location=location, start=datetime.combine(DAY, time(10), tzinfo=LONDON))
    for hour, minute in ((10, 30), (18, 0)):
        start = datetime.combine(DAY, time(hour, minute), tzinfo=LONDON)
        response = _post_add(
            staff,
            kind="consultation",
            client=ClientFactory().pk,
            technician=tech.pk,
            location=location.pk,
            start=start,
            end=start.replace(hour=hour + (minute + 45) // 60, minute=(minute + 45) % 60),
        )
        assert response.status_code == 200
        assert "is not free then" in response.content.decode()
    assert Appointment.objects.count() == 1


def test_the_booking_policy_is_editable_in_the_admin(staff):
    response = staff.get(reverse("admin:bookings_bookingpolicy_add"))
    assert response.status_code == 200
    policy = BookingPolicy.objects.create()
    assert staff.get(reverse("admin:bookings_bookingpolicy_change", args=[policy.pk])).status_code == 200
    assert staff.get(reverse("admin:bookings_bookingpolicy_changelist")).status_code == 200
