"""The dashboard's weeks end at each Monday's local midnight, clock changes included, and an
appointment is counted in the week its location's clock says (the weekly counts group by the
weeks' first instants rather than by truncating every row's time)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bookings.dashboard import Period, aftercare_by_week, appointments_by_week
from bookings.models import Appointment, ClientMessage
from bookings.tests.factories import AppointmentFactory, ClientMessageFactory, LocationFactory

pytestmark = pytest.mark.django_db

LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")


def _consultation(location, start: datetime) -> Appointment:
    return AppointmentFactory(
        location=location, start=start, end=start + timedelta(hours=1), kind=Appointment.Kind.CONSULTATION
    )


# Each case: the zone, a period spanning its clock change, and the Monday after the change.
CASES = [
    # London falls back on Sunday 25 October 2026, springs forward on Sunday 28 March 2027.
    ("Europe/London", LONDON, date(2026, 10, 19), date(2026, 11, 8), date(2026, 10, 26)),
    ("Europe/London", LONDON, date(2027, 3, 22), date(2027, 4, 11), date(2027, 3, 29)),
    # New York falls back on Sunday 1 November 2026, springs forward on Sunday 14 March 2027.
    ("America/New_York", NEW_YORK, date(2026, 10, 26), date(2026, 11, 15), date(2026, 11, 2)),
    ("America/New_York", NEW_YORK, date(2027, 3, 8), date(2027, 3, 28), date(2027, 3, 15)),
]


@pytest.mark.parametrize(("zone", "tz", "first", "last", "monday"), CASES)
def test_a_week_ends_at_the_local_midnight_before_monday_across_a_clock_change(
    zone, tz, first, last, monday, frozen_now
):
    location = LocationFactory(time_zone=zone)
    midnight = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    _consultation(location, midnight - timedelta(minutes=1))  # Sunday 23:59: the week of the change
    _consultation(location, midnight)  # Monday 00:00: the week after
    _consultation(location, midnight + timedelta(days=6, hours=23, minutes=59))  # its last minute
    weeks = appointments_by_week(period=Period(first, last, location=location), now=frozen_now)
    by_monday = {w.week: w.consultations for w in weeks}
    assert by_monday == {monday - timedelta(weeks=1): 1, monday: 2, monday + timedelta(weeks=1): 0}


def test_aftercare_messages_fall_in_the_week_of_their_local_due_day(frozen_now):
    location = LocationFactory(time_zone="America/New_York")
    # 03:30 UTC on Monday 2 November 2026 is Sunday 22:30 in New York (after its clock change).
    due = datetime(2026, 11, 2, 3, 30, tzinfo=ZoneInfo("UTC"))
    appointment = _consultation(location, due - timedelta(days=4))
    ClientMessageFactory(appointment=appointment, kind=ClientMessage.Kind.AFTERCARE_DAY_4, due_at=due)
    weeks = aftercare_by_week(period=Period(date(2026, 10, 26), date(2026, 11, 8), location=location))
    assert [(w.week, w.waiting) for w in weeks] == [(date(2026, 10, 26), 1), (date(2026, 11, 2), 0)]


def test_a_one_week_period_has_its_one_week(frozen_now):
    location = LocationFactory(time_zone="Europe/London")
    _consultation(location, datetime(2026, 6, 3, 10, tzinfo=LONDON))
    weeks = appointments_by_week(period=Period(date(2026, 6, 3), date(2026, 6, 5), location=location), now=frozen_now)
    assert [(w.week, w.consultations) for w in weeks] == [(date(2026, 6, 1), 1)]
