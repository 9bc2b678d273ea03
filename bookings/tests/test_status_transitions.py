"""An appointment's status changes only by the transitions in one table, each checking who may make
it; undoing a no-show or a cancellation re-claims the technician's time, past or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from bookings.models import Appointment, ClientMessage, Course
from bookings.services import appointments as status
from bookings.tests.factories import AppointmentFactory, CourseFactory, LocationFactory, TechnicianFactory, UserFactory
from clients.models import AuditEvent
from clients.tests.factories import staff_user
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db

# The outbox model; renamed ClientMessage by the outbox work (change this one line on merge).
Message = ClientMessage

S = Appointment.Status
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manager():
    return staff_user(role="Manager")


@pytest.fixture
def reception():
    return staff_user(role="Reception")


def _appointment(state: str = S.BOOKED, *, start: datetime = NOW - timedelta(hours=1), **kwargs) -> Appointment:
    stamps = {
        "cancelled_at": NOW - timedelta(days=1) if state == S.CANCELLED else None,
        "completed_at": start if state == S.COMPLETED else None,
        # A booking held for a deposit (or released unpaid) has the end of its hold.
        "hold_expires_at": NOW if state in (S.PENDING_PAYMENT, S.HOLD_RELEASED) else None,
    }
    return AppointmentFactory(status=state, start=start, end=start + timedelta(minutes=45), **stamps, **kwargs)


EVERY_PAIR = [(a, b) for a, b in product(S.values, S.values) if a != b]


@pytest.mark.parametrize(("current", "target"), EVERY_PAIR)
def test_only_the_tables_transitions_are_allowed(manager, current, target):
    appointment = _appointment(current)
    if (current, target) in status.TRANSITIONS:
        changed = status.appointment_status_change(appointment=appointment, target=target, by=manager)
        assert changed.status == target
        event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
        assert (event.actor, event.action, event.detail) == (manager, "update", f"status {current} -> {target}")
        assert "status" in event.fields
    else:
        with pytest.raises(ValidationError) as refused:
            status.appointment_status_change(appointment=appointment, target=target, by=manager)
        assert refused.value.code == "transition_not_allowed"
        appointment.refresh_from_db()
        assert appointment.status == current
        assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("service", "current", "reception_may"),
    [
        (status.appointment_confirm, S.BOOKED, True),
        (status.appointment_arrive, S.CONFIRMED, True),
        (status.appointment_mark_no_show, S.BOOKED, True),
        (status.appointment_staff_cancel, S.BOOKED, True),
        (status.appointment_complete, S.ARRIVED, False),
        (status.appointment_undo_no_show, S.NO_SHOW, False),
        (status.appointment_undo_cancel, S.CANCELLED, False),
        (status.appointment_uncomplete, S.COMPLETED, False),
    ],
)
def test_reception_makes_the_everyday_changes_and_a_manager_the_undoing(
    reception, manager, service, current, reception_may
):
    appointment = _appointment(current)
    if reception_may:
        assert service(appointment=appointment, by=reception).status != current
        return
    with pytest.raises(PermissionDenied):
        service(appointment=appointment, by=reception)
    appointment.refresh_from_db()
    assert appointment.status == current
    assert service(appointment=appointment, by=manager).status != current


def test_a_user_without_a_staff_role_can_make_no_transition():
    appointment = _appointment(S.BOOKED)
    for service in (status.appointment_confirm, status.appointment_arrive, status.appointment_staff_cancel):
        with pytest.raises(PermissionDenied):
            service(appointment=appointment, by=UserFactory())
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED


def test_undoing_a_no_show_on_a_past_slot_books_it_again_without_the_booking_rules(manager, reception):
    # Last month, a technician with no working hours at all: only the clash with another
    # appointment matters when the time is re-claimed.
    appointment = _appointment(S.BOOKED, start=NOW - timedelta(days=30))
    status.appointment_mark_no_show(appointment=appointment, by=reception)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.status_changed_by, appointment.status_changed_at) == (
        S.NO_SHOW,
        reception,
        NOW,
    )

    undone = status.appointment_undo_no_show(appointment=appointment, by=manager)

    assert undone.status == S.BOOKED
    assert undone.status_changed_by == manager
    trail = list(AuditEvent.objects.filter(object_id=str(appointment.pk)).order_by("id").values_list("actor", "detail"))
    assert trail == [(reception.pk, "status booked -> no_show"), (manager.pk, "status no_show -> booked")]


@pytest.mark.parametrize("released", [S.CANCELLED, S.NO_SHOW])
def test_undoing_is_refused_with_a_code_when_the_time_was_taken_since(manager, released):
    appointment = _appointment(released, start=NOW + timedelta(days=2))
    # Another client booked the same technician at an overlapping time meanwhile.
    AppointmentFactory(
        technician=appointment.technician,
        location=appointment.location,
        start=appointment.start + timedelta(minutes=30),
        end=appointment.start + timedelta(minutes=90),
    )
    with pytest.raises(ValidationError) as refused:
        status.appointment_status_change(appointment=appointment, target=S.BOOKED, by=manager)
    assert refused.value.code == "slot_taken"
    appointment.refresh_from_db()
    assert appointment.status == released


def test_undoing_a_cancellation_restores_the_reminder_it_withdrew(manager, reception):
    appointment = _appointment(S.BOOKED, start=NOW + timedelta(days=5))
    status.appointment_confirm(appointment=appointment, by=reception)
    assert Message.objects.filter(appointment=appointment, kind="reminder_48h", status="pending").exists()

    status.appointment_staff_cancel(appointment=appointment, by=reception)
    appointment.refresh_from_db()
    assert appointment.cancelled_at == NOW
    pending = Message.objects.filter(appointment=appointment, status="pending")
    assert set(pending.values_list("kind", "sequence")) == {("cancelled", 1)}

    status.appointment_undo_cancel(appointment=appointment, by=manager)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_at, appointment.ics_sequence) == (S.BOOKED, None, 2)
    assert Message.objects.filter(appointment=appointment, kind="reminder_48h", status="pending").exists()
    # The calendar event the CANCEL removed comes back, at a higher sequence.
    assert Message.objects.filter(appointment=appointment, kind="confirmation", sequence=2, status="pending").exists()


def test_a_no_show_cannot_be_marked_before_the_appointment_starts(reception):
    appointment = _appointment(S.BOOKED, start=NOW + timedelta(hours=2))
    with pytest.raises(ValidationError) as refused:
        status.appointment_mark_no_show(appointment=appointment, by=reception)
    assert refused.value.code == "not_started"


def test_undo_refuses_an_appointment_that_is_not_in_the_state_it_undoes(manager):
    appointment = _appointment(S.BOOKED)
    with pytest.raises(ValidationError) as refused:
        status.appointment_undo_no_show(appointment=appointment, by=manager)
    assert refused.value.code == "transition_not_allowed"


def test_completing_an_arrived_session_writes_aftercare_and_moves_the_course_on(manager):
    course = CourseFactory(planned_sessions=2, treatment=TreatmentFactory())
    session = _appointment(
        S.ARRIVED,
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=course.treatment,
        course=course,
        client=course.client,
        session_number=1,
    )
    status.appointment_complete(appointment=session, by=manager)
    course.refresh_from_db()
    assert course.status == Course.Status.IN_PROGRESS
    owed = set(Message.objects.filter(appointment=session, status="pending").values_list("kind", flat=True))
    assert {"aftercare_day4", "aftercare_day7", "aftercare_day10"} <= owed

    status.appointment_uncomplete(appointment=session, by=manager)
    course.refresh_from_db()
    assert course.status == Course.Status.PLANNED
    assert not Message.objects.filter(appointment=session, status="pending", kind__startswith="aftercare").exists()


def test_the_database_refuses_an_overlap_with_an_arrived_appointment(postgres):
    technician, location = TechnicianFactory(), LocationFactory()
    arrived = _appointment(S.ARRIVED, technician=technician, location=location)
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Appointment.objects.create(
            kind=Appointment.Kind.CONSULTATION,
            client=arrived.client,
            technician=technician,
            location=location,
            start=arrived.start + timedelta(minutes=15),
            end=arrived.end + timedelta(minutes=15),
        )
    assert "appointment_no_technician_overlap" in str(excinfo.value)
    assert S.ARRIVED in Appointment.ACTIVE_STATUSES
