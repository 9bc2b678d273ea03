"""A client moving a course session online keeps the treatment's spacing (14-21 days) from the
sessions either side; staff may still move it anywhere free."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from bookings.selectors import BookingRequestError
from bookings.services.booking import appointment_reschedule, course_spacing_window
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    CourseFactory,
    LocationFactory,
    technician_working,
)
from bookings.tests.test_booking_service import at
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
FIRST = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2026, 12, 2, 8, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def course_sessions():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    location = LocationFactory()
    treatment = TreatmentFactory(spacing_days_min=14, spacing_days_max=21)
    tech = technician_working(location=location)
    tech.treatments.add(treatment)
    course = CourseFactory(treatment=treatment, planned_sessions=3)
    sessions = []
    for number, offset in ((1, 0), (2, 17), (3, 34)):
        day = FIRST + timedelta(days=offset)
        sessions.append(
            AppointmentFactory(
                kind="session",
                client=course.client,
                course=course,
                session_number=number,
                treatment=treatment,
                technician=tech,
                location=location,
                start=at(day, 10),
                end=at(day, 13),
            )
        )
    return sessions


def test_the_window_keeps_spacing_from_both_neighbours(course_sessions):
    _, second, _ = course_sessions
    assert course_spacing_window(appointment=second) == (FIRST + timedelta(days=14), FIRST + timedelta(days=20))


@pytest.mark.parametrize("offset", [5, 13, 21, 25])
def test_a_client_cannot_move_a_session_out_of_its_spacing(course_sessions, offset):
    _, second, _ = course_sessions
    with pytest.raises(BookingRequestError, match="keep its spacing"):
        appointment_reschedule(appointment=second, start=at(FIRST + timedelta(days=offset), 10), by_client=True)
    second.refresh_from_db()
    assert second.start == at(FIRST + timedelta(days=17), 10)


def test_a_client_may_move_a_session_within_its_spacing(course_sessions):
    _, second, _ = course_sessions
    moved = appointment_reschedule(appointment=second, start=at(FIRST + timedelta(days=15), 10), by_client=True)
    assert moved.start == at(FIRST + timedelta(days=15), 10)


def test_staff_may_move_a_session_outside_the_spacing(course_sessions):
    _, second, _ = course_sessions
    moved = appointment_reschedule(appointment=second, start=at(FIRST + timedelta(days=5), 10))
    assert moved.start == at(FIRST + timedelta(days=5), 10)
