"""Each database constraint rejects what it forbids, at the database, not only in forms."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from bookings.models import Appointment, Break, ClientMessage, Closure, Course, TimeOff, WorkingHours
from bookings.tests.factories import (
    LONDON,
    AppointmentFactory,
    ClientMessageFactory,
    CourseFactory,
    LocationFactory,
    TechnicianFactory,
)

pytestmark = pytest.mark.django_db
# Constraints hold whatever the date: any fixed moment will do, never the real clock.
WHEN = datetime(2026, 6, 10, 10, 30, tzinfo=LONDON)


def rejected(fn, *, constraint: str) -> None:
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        fn()
    # SQLite names CHECK constraints in its messages; PostgreSQL names every constraint.
    assert constraint in str(excinfo.value) or "UNIQUE" in str(excinfo.value)


def test_it_rejects_an_appointment_that_ends_before_it_starts():
    appointment = AppointmentFactory()
    appointment.end = appointment.start - timedelta(minutes=1)
    rejected(appointment.save, constraint="appointment_end_after_start")


def test_it_rejects_a_zero_length_appointment():
    appointment = AppointmentFactory()
    appointment.end = appointment.start
    rejected(appointment.save, constraint="appointment_end_after_start")


def test_it_rejects_an_appointment_longer_than_a_day_and_keeps_one_of_a_day():
    appointment = AppointmentFactory()
    appointment.end = appointment.start + timedelta(days=1, minutes=1)
    rejected(appointment.save, constraint="appointment_at_most_a_day")
    appointment.refresh_from_db()
    appointment.end = appointment.start + timedelta(days=1)
    appointment.save()


def test_the_diary_shows_an_appointment_that_began_the_evening_before():
    """The diary finds appointments by their start, bounded by the longest one (a day)."""
    from bookings.diary import diary_grid

    late = AppointmentFactory(start=WHEN - timedelta(hours=20), end=WHEN + timedelta(hours=2))
    grid = diary_grid(location=late.location, first_day=WHEN.date(), days=1, now=WHEN)
    shown = {cell.appointment.pk for row in grid.rows for cell in row.cells if getattr(cell, "appointment", None)}
    assert late.pk in shown


def test_it_rejects_a_session_number_without_a_course():
    appointment = AppointmentFactory(kind=Appointment.Kind.TREATMENT_SESSION)
    appointment.session_number = 1
    rejected(appointment.save, constraint="appointment_session_number_needs_course")


def test_it_rejects_a_completed_appointment_without_completion_time():
    appointment = AppointmentFactory()
    appointment.status = Appointment.Status.COMPLETED
    rejected(appointment.save, constraint="appointment_completed_has_time")


def test_it_rejects_two_scheduled_messages_of_one_kind():
    reminder = ClientMessageFactory()
    rejected(
        lambda: ClientMessage.objects.create(
            appointment=reminder.appointment, kind=reminder.kind, due_at=reminder.due_at
        ),
        constraint="clientmessage_one_per_appointment_kind",
    )


def test_it_rejects_a_sent_reminder_without_sent_time():
    reminder = ClientMessageFactory()
    reminder.status = ClientMessage.Status.SENT
    rejected(reminder.save, constraint="clientmessage_sent_has_time")


def test_it_rejects_a_course_of_zero_sessions():
    course = CourseFactory()
    course.planned_sessions = 0
    rejected(course.save, constraint="course_planned_sessions_1_to_5")


def test_it_rejects_working_hours_that_end_before_they_start():
    tech = TechnicianFactory()
    rejected(
        lambda: WorkingHours.objects.create(
            technician=tech, location=LocationFactory(), weekday=0, start_time="17:00", end_time="09:00"
        ),
        constraint="workinghours_end_after_start",
    )


def test_it_rejects_a_break_that_ends_before_it_starts():
    tech = TechnicianFactory()
    rejected(
        lambda: Break.objects.create(technician=tech, weekday=0, start_time="13:00", end_time="12:00"),
        constraint="break_end_after_start",
    )


def test_it_rejects_time_off_that_ends_before_it_starts():
    tech = TechnicianFactory()
    start = WHEN
    rejected(
        lambda: TimeOff.objects.create(technician=tech, start=start, end=start - timedelta(hours=1)),
        constraint="timeoff_end_after_start",
    )


def test_it_rejects_a_closure_that_ends_before_it_starts():
    today = WHEN.date()
    rejected(
        lambda: Closure.objects.create(start_date=today, end_date=today - timedelta(days=1), reason="x"),
        constraint="closure_end_not_before_start",
    )


class TestNoTechnicianOverlap:
    """On PostgreSQL the exclusion constraint makes double booking impossible."""

    def test_it_rejects_overlapping_appointments_of_one_technician(self, postgres):
        first = AppointmentFactory()
        rejected(
            lambda: AppointmentFactory(
                technician=first.technician,
                start=first.start + timedelta(minutes=30),
                end=first.end + timedelta(minutes=30),
            ),
            constraint="appointment_no_technician_overlap",
        )

    def test_it_allows_back_to_back_appointments(self, postgres):
        first = AppointmentFactory()
        second = AppointmentFactory(technician=first.technician, start=first.end, end=first.end + timedelta(hours=1))
        assert second.pk

    def test_it_allows_the_same_time_for_another_technician(self, postgres):
        first = AppointmentFactory()
        other = AppointmentFactory(start=first.start, end=first.end)
        assert other.technician_id != first.technician_id

    def test_a_cancelled_appointment_frees_its_time(self, postgres):
        first = AppointmentFactory()
        Appointment.objects.filter(pk=first.pk).update(status="cancelled", cancelled_at=WHEN)
        again = AppointmentFactory(technician=first.technician, start=first.start, end=first.end)
        assert again.pk

    def test_it_rejects_reactivating_a_cancelled_appointment_into_a_taken_slot(self, postgres):
        first = AppointmentFactory(status="cancelled", cancelled_at=WHEN)
        AppointmentFactory(technician=first.technician, start=first.start, end=first.end)
        rejected(
            lambda: Appointment.objects.filter(pk=first.pk).update(status="booked", cancelled_at=None),
            constraint="appointment_no_technician_overlap",
        )

    def test_model_validation_reports_the_overlap_in_words(self, postgres):
        from django.core.exceptions import ValidationError

        first = AppointmentFactory()
        clash = Appointment(
            kind=first.kind,
            client=first.client,
            technician=first.technician,
            location=first.location,
            start=first.start,
            end=first.end,
        )
        with pytest.raises(ValidationError, match="already has an appointment") as excinfo:
            clash.full_clean()
        assert [e.code for e in excinfo.value.error_dict["__all__"]] == ["appointment_no_technician_overlap"]

    def test_the_booking_service_knows_the_overlap_by_its_code_not_its_words(self, postgres, monkeypatch):
        from bookings.services.booking import SlotTaken, _save_claimed

        constraint = next(c for c in Appointment._meta.constraints if c.name == "appointment_no_technician_overlap")
        monkeypatch.setattr(constraint, "violation_error_message", "Reworded: this slot is gone.")
        first = AppointmentFactory()
        clash = Appointment(
            kind=first.kind,
            client=first.client,
            technician=first.technician,
            location=first.location,
            start=first.start,
            end=first.end,
        )
        with pytest.raises(SlotTaken):
            _save_claimed(clash, on_conflict=SlotTaken)


def test_every_constraint_that_explains_itself_also_carries_a_code():
    """Callers branch on the code (stable), never on the wording (which staff may see change)."""
    from django.apps import apps

    uncoded = [
        f"{model.__name__}.{constraint.name}"
        for model in apps.get_models()
        for constraint in model._meta.constraints
        if constraint.violation_error_message != constraint.default_violation_error_message
        and constraint.violation_error_code is None
    ]
    assert uncoded == []


def test_course_statuses_exist():
    assert {"planned", "in_progress", "completed", "cancelled"} == set(Course.Status.values)
