"""appointment_book / appointment_reschedule / appointment_cancel."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from bookings.models import Appointment
from bookings.services import booking as booking_service
from bookings.services.booking import (
    ChangeNotAllowed,
    SlotTaken,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    CourseFactory,
    LocationFactory,
    technician_working,
)
from clients.tests.factories import ClientFactory
from treatments.tests.factories import TreatmentFactory

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db
CLOCK_CHANGE_DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2026, 11, 2, 8, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=12, buffer_after_minutes=15, change_notice_hours=24)
    return LocationFactory(slug="leeds", phone="0113 496 0000")


@pytest.fixture
def sync_calls(monkeypatch):
    calls = []

    def spy(*, appointment, **kwargs):
        calls.append((appointment.pk, appointment.status, connection.in_atomic_block))

    # A booking writes its first rows with appointment_messages_new; moves and cancels sync.
    monkeypatch.setattr(booking_service, "reminders_sync", spy)
    monkeypatch.setattr(booking_service, "appointment_messages_new", spy)
    return calls


DAY = date(2026, 12, 1)


def test_it_books_a_free_time_and_syncs_reminders_inside_the_transaction(location, sync_calls):
    tech = technician_working(location=location)
    appointment = appointment_book(
        client=ClientFactory(), location=location, kind="consultation", start=at(DAY, 10), channel="online"
    )
    appointment.refresh_from_db()
    assert appointment.technician == tech
    assert appointment.start == at(DAY, 10)
    assert appointment.end == at(DAY, 10, 45)
    assert appointment.status == Appointment.Status.BOOKED
    assert appointment.reference.startswith("SMP-")
    assert sync_calls == [(appointment.pk, "booked", True)]


def test_a_taken_time_raises_slot_taken_with_the_nearest_free_times(location, sync_calls):
    tech = technician_working(location=location)
    AppointmentFactory(technician=tech, location=location, start=at(DAY, 10))
    with pytest.raises(SlotTaken) as exc:
        appointment_book(
            client=ClientFactory(), location=location, kind="consultation", start=at(DAY, 10), channel="online"
        )
    # 10:00-10:45 plus 15 minutes' clean-up: the nearest are 09:00 (ends 09:45 + 15 = 10:00), 11:00, 11:15.
    alternatives = [s.start.astimezone(LONDON).strftime("%H:%M") for s in exc.value.alternatives]
    assert alternatives == ["09:00", "11:00", "11:15"]
    assert Appointment.objects.count() == 1
    assert sync_calls == []


def test_any_technician_goes_to_the_one_with_the_fewest_booked_minutes_that_day(location, sync_calls):
    busy = technician_working(location=location)
    quiet = technician_working(location=location)
    AppointmentFactory(technician=busy, location=location, start=at(DAY, 15))
    first = appointment_book(
        client=ClientFactory(), location=location, kind="consultation", start=at(DAY, 9), channel="online"
    )
    assert first.technician == quiet
    # Now both have 45 minutes booked: the tie goes to the lower id.
    second = appointment_book(
        client=ClientFactory(), location=location, kind="consultation", start=at(DAY, 11), channel="online"
    )
    assert second.technician_id == min(busy.pk, quiet.pk)


def test_online_bookings_respect_minimum_notice_but_staff_may_book_sooner(location, sync_calls):
    technician_working(location=location)
    soon = datetime(2026, 11, 2, 14, tzinfo=UTC)  # six hours away; the policy asks for twelve
    with pytest.raises(SlotTaken):
        appointment_book(client=ClientFactory(), location=location, kind="consultation", start=soon, channel="online")
    booked = appointment_book(
        client=ClientFactory(), location=location, kind="consultation", start=soon, channel="phone"
    )
    assert booked.start == soon


def test_a_time_outside_working_hours_is_refused(location, sync_calls):
    technician_working(location=location)
    with pytest.raises(SlotTaken):
        appointment_book(
            client=ClientFactory(), location=location, kind="consultation", start=at(DAY, 16, 30), channel="staff"
        )


def test_a_treatment_session_fits_whole_and_joins_its_course(location, sync_calls):
    treatment = TreatmentFactory(session_minutes_min=120, session_minutes_max=300)
    tech = technician_working(location=location)
    tech.treatments.add(treatment)
    course = CourseFactory(treatment=treatment)
    with pytest.raises(SlotTaken):
        appointment_book(
            client=course.client, location=location, kind="session", treatment=treatment, start=at(DAY, 13),
            channel="staff",
        )  # fmt: skip
    session = appointment_book(
        client=course.client,
        location=location,
        kind="session",
        treatment=treatment,
        start=at(DAY, 13),
        course=course,
        session_number=1,
        length_minutes=180,
        channel="staff",
    )
    assert session.end == at(DAY, 16)
    assert session.course == course


@pytest.mark.parametrize("day", CLOCK_CHANGE_DAYS)
def test_booking_at_nine_on_a_clock_change_day_stores_the_right_instant(location, sync_calls, day):
    technician_working(location=location, weekdays=[day.weekday()])
    with time_machine.travel(datetime(day.year, day.month, 1, tzinfo=UTC), tick=False):
        appointment = appointment_book(
            client=ClientFactory(), location=location, kind="consultation", start=at(day, 9), channel="online"
        )
    appointment.refresh_from_db()
    offset = 1 if day.month == 3 else 0
    assert appointment.start == datetime.combine(day, time(9 - offset), tzinfo=UTC)
    assert appointment.start.astimezone(LONDON).hour == 9


def test_the_database_refusal_of_an_overlap_becomes_slot_taken(location, postgres, monkeypatch, sync_calls):
    tech = technician_working(location=location)
    AppointmentFactory(technician=tech, location=location, start=at(DAY, 10))
    # Pretend the engine and the model validation missed it (as a concurrent writer without
    # the lock would): the exclusion constraint must still refuse, as SlotTaken.
    monkeypatch.setattr(booking_service, "_claim_technician", lambda **kwargs: tech)
    monkeypatch.setattr(Appointment, "validate_constraints", lambda self, exclude=None: None)
    with pytest.raises(SlotTaken) as exc:
        appointment_book(
            client=ClientFactory(), location=location, kind="consultation", start=at(DAY, 10, 15), channel="staff"
        )
    assert exc.value.alternatives
    assert Appointment.objects.count() == 1


def test_reschedule_keeps_the_length_and_the_technician_when_free(location, sync_calls):
    treatment = TreatmentFactory(session_minutes_min=120, session_minutes_max=300)
    tech = technician_working(location=location)
    other = technician_working(location=location)
    for t in (tech, other):
        t.treatments.add(treatment)
    appointment = AppointmentFactory(
        technician=tech, location=location, kind="session", treatment=treatment, start=at(DAY, 9),
        end=at(DAY, 12),
    )  # fmt: skip
    moved = appointment_reschedule(appointment=appointment, start=at(DAY + timedelta(days=1), 13))
    assert moved.technician == tech
    assert moved.end - moved.start == timedelta(hours=3)
    # Moving by 15 minutes overlaps its own old time: that is allowed.
    moved = appointment_reschedule(appointment=moved, start=at(DAY + timedelta(days=1), 13, 15))
    assert moved.start == at(DAY + timedelta(days=1), 13, 15)
    assert sync_calls[-1] == (appointment.pk, "booked", True)


def test_reschedule_to_a_taken_time_raises_and_leaves_the_booking(location, sync_calls):
    tech = technician_working(location=location)
    appointment = AppointmentFactory(technician=tech, location=location, start=at(DAY, 9))
    AppointmentFactory(technician=tech, location=location, start=at(DAY, 11))
    with pytest.raises(SlotTaken):
        appointment_reschedule(appointment=appointment, start=at(DAY, 11), technician=tech)
    appointment.refresh_from_db()
    assert appointment.start == at(DAY, 9)


def test_clients_cannot_move_or_cancel_inside_the_notice_window_but_staff_can(location, sync_calls):
    tech = technician_working(location=location)
    tomorrow = AppointmentFactory(technician=tech, location=location, start=datetime(2026, 11, 3, 7, tzinfo=UTC))
    with pytest.raises(ChangeNotAllowed) as exc:
        appointment_cancel(appointment=tomorrow, by_client=True)
    assert "24 hours" in exc.value.message
    assert "0113 496 0000" in exc.value.message
    with pytest.raises(ChangeNotAllowed):
        appointment_reschedule(appointment=tomorrow, start=at(DAY, 10), by_client=True)
    cancelled = appointment_cancel(appointment=tomorrow, by_client=False)
    assert cancelled.status == Appointment.Status.CANCELLED
    assert cancelled.cancelled_at is not None


def test_cancelling_frees_the_time_and_is_idempotent(location, sync_calls):
    tech = technician_working(location=location)
    appointment = AppointmentFactory(technician=tech, location=location, start=at(DAY, 10))
    appointment_cancel(appointment=appointment, by_client=True)
    appointment_cancel(appointment=appointment, by_client=True)
    assert sync_calls == [(appointment.pk, "cancelled", True)]
    again = appointment_book(
        client=ClientFactory(), location=location, kind="consultation", start=at(DAY, 10), channel="online"
    )
    assert again.technician == tech


def test_a_reference_that_repeats_an_old_one_is_drawn_again(location, sync_calls, monkeypatch):
    tech = technician_working(location=location)
    AppointmentFactory(technician=tech, location=location, start=at(DAY, 15), reference="SMP-22222")
    monkeypatch.setattr(Appointment._meta.get_field("reference"), "_get_default", lambda: "SMP-22222")
    monkeypatch.setattr(booking_service, "generate_reference", lambda: "SMP-33333")
    appointment = appointment_book(
        client=ClientFactory(), location=location, kind="consultation", start=at(DAY, 10), channel="online"
    )
    assert appointment.reference == "SMP-33333"
