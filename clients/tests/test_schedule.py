"""The technician's schedule: their own appointments today and the rest of the week, in London time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory, TechnicianFactory
from clients.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute, tzinfo=LONDON)


@pytest.fixture
def now(day):
    """The whole test, the clinic fixture included, runs at 08:00 on the day."""
    return at(day, 8)


@pytest.mark.parametrize(
    "day",
    [datetime(2026, 3, 29), datetime(2026, 10, 25), datetime(2027, 3, 28), datetime(2027, 10, 31)],
    ids=["spring-2026", "autumn-2026", "spring-2027", "autumn-2027"],
)
def test_the_schedule_splits_today_from_the_week_on_clock_change_days(client, clinic, day):
    tech = clinic["technician"]
    colleague = TechnicianFactory(locations=[clinic["here"]])

    def book(start, technician=tech, **kw):
        return AppointmentFactory(
            technician=technician, location=clinic["here"], start=start, end=start + timedelta(minutes=45), **kw
        )

    early = book(at(day, 0, 15))  # 00:15 local: still today, whatever the UTC offset
    late = book(at(day, 23, 0))
    tomorrow = book(at(day + timedelta(days=1), 0, 30))
    yesterday = book(at(day - timedelta(days=1), 23, 30))  # a Saturday: the same Monday-Sunday week
    book(at(day, 12), technician=colleague)  # not this technician's
    book(at(day, 14), status=Appointment.Status.CANCELLED, cancelled_at=at(day, 9))
    client.login(username="tech", password=PASSWORD)
    response = client.get(reverse("staff:schedule"))
    assert response.status_code == 200
    days = response.context["days"]
    # The clinic fixture's session today started at 07:30, half an hour before "now".
    assert days["today"] == [early, clinic["session"], late]
    assert tomorrow not in days["week"]  # Monday starts the next week
    assert yesterday in days["week"]
