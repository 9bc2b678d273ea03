"""The technician's schedule: their own appointments today and the rest of the week, on their clinic's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory, LocationFactory, TechnicianFactory
from clients.tests.conftest import PASSWORD
from clients.tests.factories import staff_user

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
    assert tomorrow not in days["later"]  # Monday starts the next week
    assert yesterday in days["earlier"]  # a past day of this week, never under "Later this week"


# 02:00 UTC on Tuesday 10 November: already the 10th in London, still Monday the 9th in New York.
@pytest.mark.parametrize("now", [datetime(2026, 11, 10, 2, tzinfo=ZoneInfo("UTC"))])
def test_a_new_york_technician_sees_new_york_today_on_new_york_clocks(client, frozen_now):
    new_york = ZoneInfo("America/New_York")
    location = LocationFactory(slug="new-york", time_zone="America/New_York")
    tech = TechnicianFactory(user=staff_user(role="Technician", username="nytech"), locations=[location])

    def book(start):
        return AppointmentFactory(technician=tech, location=location, start=start, end=start + timedelta(minutes=45))

    evening = book(datetime(2026, 11, 9, 20, tzinfo=new_york))  # 01:00 UTC on the 10th
    tomorrow = book(datetime(2026, 11, 10, 10, tzinfo=new_york))
    client.login(username="nytech", password=PASSWORD)
    response = client.get(reverse("staff:schedule"))
    assert response.context["today"].isoformat() == "2026-11-09"
    assert response.context["days"]["today"] == [evening]
    assert response.context["days"]["later"] == [tomorrow]
    assert "20:00\u201320:45" in response.content.decode()  # the en dash the list prints
