"""The appointment admin writes only through the booking services: every action and every form
save leaves the audit row (actor, action, fields) and the client's messages the services write."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from bookings.models import Appointment, ClientMessage
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from bookings.tests.test_appointment_admin_edits import _post_change
from bookings.tests.test_booking_admin import _post_add
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as
from treatments.tests.factories import TreatmentFactory

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db

# The outbox model; renamed ClientMessage by the outbox work (change this one line on merge).
Message = ClientMessage

S = Appointment.Status
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
PAST = NOW - timedelta(hours=2)
FUTURE = datetime.combine(NOW.date() + timedelta(days=6), time(10), tzinfo=LONDON)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manager(client):
    user = staff_user(role="Manager", username="boss")
    login_as(client, user)
    return user


@pytest.fixture
def place():
    BookingPolicyFactory()
    location = LocationFactory()
    return {"location": location, "technician": technician_working(location=location)}


def _appointment(place, state=S.BOOKED, start=PAST, **kwargs) -> Appointment:
    stamps = {
        "cancelled_at": NOW - timedelta(days=1) if state == S.CANCELLED else None,
        "completed_at": start if state == S.COMPLETED else None,
    }
    return AppointmentFactory(
        status=state,
        start=start,
        end=start + timedelta(minutes=45),
        technician=place["technician"],
        location=place["location"],
        **stamps,
        **kwargs,
    )


def _act(client, action: str, *appointments: Appointment):
    return client.post(
        reverse("admin:bookings_appointment_changelist"),
        # "apply": the second step of the actions that have one (move, cancel), confirmed.
        {"action": action, "index": 0, "_selected_action": [a.pk for a in appointments], "apply": "1"},
        follow=True,
    )


def _status_event(appointment: Appointment) -> AuditEvent:
    return AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk), action="update")


@pytest.mark.parametrize(
    ("action", "current", "start", "after", "pending_after"),
    [
        ("confirm", S.BOOKED, FUTURE, S.CONFIRMED, {"reminder_48h"}),
        ("arrive", S.CONFIRMED, PAST, S.ARRIVED, set()),
        ("complete", S.ARRIVED, PAST, S.COMPLETED, {"aftercare_day4", "aftercare_day7", "aftercare_day10"}),
        ("mark_no_show", S.BOOKED, PAST, S.NO_SHOW, set()),
        ("undo_no_show", S.NO_SHOW, PAST, S.BOOKED, set()),
        ("cancel", S.BOOKED, FUTURE, S.CANCELLED, {"cancelled"}),
        ("undo_cancel", S.CANCELLED, FUTURE, S.BOOKED, {"reminder_48h", "confirmation"}),
        ("uncomplete", S.COMPLETED, PAST, S.BOOKED, set()),
    ],
)
def test_each_admin_action_goes_through_its_transition(
    client, manager, place, action, current, start, after, pending_after
):
    appointment = _appointment(
        place, current, start, kind=Appointment.Kind.TREATMENT_SESSION, treatment=TreatmentFactory()
    )
    response = _act(client, action, appointment)
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert (appointment.status, appointment.status_changed_by) == (after, manager)
    event = _status_event(appointment)
    assert (event.actor, event.detail) == (manager, f"status {current} -> {after}")
    assert {"status", "status_changed_at", "status_changed_by"} <= set(event.fields)
    pending = set(Message.objects.filter(appointment=appointment, status="pending").values_list("kind", flat=True))
    assert pending == pending_after


def test_an_action_reports_each_refused_row_and_changes_the_others(client, place):
    desk = staff_user(role="Reception", username="desk")
    client.force_login(desk)
    missed = _appointment(place, S.BOOKED, PAST)
    upcoming = _appointment(place, S.BOOKED, FUTURE)
    # A no-show is marked only once the appointment has started.
    response = _act(client, "mark_no_show", missed, upcoming)
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(upcoming.reference in n and "not changed" in n for n in notes)
    assert "1 appointment(s) marked no-show." in notes
    missed.refresh_from_db()
    upcoming.refresh_from_db()
    assert (missed.status, upcoming.status) == (S.NO_SHOW, S.BOOKED)
    assert _status_event(missed).actor == desk
    assert not AuditEvent.objects.filter(object_type="appointment", object_id=str(upcoming.pk)).exists()


def _offered_actions(client) -> set[str]:
    response = client.get(reverse("admin:bookings_appointment_changelist"))
    assert response.status_code == 200
    return {name for name, _ in response.context["action_form"].fields["action"].choices if name}


def test_the_list_offers_each_role_only_the_actions_the_transition_table_lets_it_make(client, manager):
    assert {"complete", "undo_no_show", "undo_cancel", "uncomplete", "cancel", "mark_no_show"} <= _offered_actions(
        client
    )
    client.force_login(staff_user(role="Reception", username="desk"))
    offered = _offered_actions(client)
    # Completing needs clinical access and undoing a no-show, cancellation or completion is a manager's.
    assert not offered & {"complete", "undo_no_show", "undo_cancel", "uncomplete"}
    assert {"confirm", "arrive", "mark_no_show", "cancel", "move"} <= offered


def test_an_action_not_offered_to_the_role_changes_nothing_when_posted_anyway(client, place):
    client.force_login(staff_user(role="Reception", username="desk"))
    missed = _appointment(place, S.NO_SHOW, PAST)
    response = _act(client, "undo_no_show", missed)
    assert response.status_code == 200
    missed.refresh_from_db()
    assert missed.status == S.NO_SHOW
    assert not AuditEvent.objects.filter(object_type="appointment").exists()


def test_adding_an_appointment_books_it_through_the_service_with_an_audit_row(client, manager, place):
    response = _post_add(
        client,
        kind="consultation",
        client=ClientFactory().pk,
        technician=place["technician"].pk,
        location=place["location"].pk,
        start=FUTURE,
        end=FUTURE + timedelta(minutes=45),
        staff_notes="Booked at the desk.",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    appointment = Appointment.objects.get()
    assert (appointment.channel, appointment.staff_notes) == ("phone", "Booked at the desk.")
    event = AuditEvent.objects.get(object_type="appointment", action="create")
    assert (event.actor, event.object_id, event.detail) == (manager, str(appointment.pk), "phone")
    assert {"start", "technician", "staff_notes"} <= set(event.fields)
    # A consultation also owes the intake form's reminder two days before.
    assert set(Message.objects.filter(appointment=appointment).values_list("kind", flat=True)) == {
        "confirmation",
        "reminder_48h",
        "intake_reminder",
    }


def test_changing_the_time_in_the_form_moves_it_through_the_service(client, manager, place):
    appointment = _appointment(place, S.BOOKED, FUTURE)
    later = FUTURE + timedelta(days=1, hours=2)
    response = _post_change(client, appointment, start=later, end=later + timedelta(minutes=45))
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert (appointment.start, appointment.end) == (later, later + timedelta(minutes=45))
    event = AuditEvent.objects.get(object_type="appointment", action="update")
    assert (event.actor, event.fields, event.detail) == (manager, ["end", "start"], "moved")
    reminder = Message.objects.get(appointment=appointment, kind="reminder_48h")
    assert reminder.due_at == later - timedelta(hours=48)


def test_a_move_into_a_taken_time_is_shown_on_the_form_and_nothing_changes(client, manager, place):
    appointment = _appointment(place, S.BOOKED, FUTURE)
    taken = FUTURE + timedelta(hours=2)
    _appointment(place, S.BOOKED, taken)
    response = _post_change(client, appointment, start=taken, end=taken + timedelta(minutes=45))
    assert "is not free then" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.start == FUTURE
    assert not AuditEvent.objects.filter(object_type="appointment").exists()


def test_changing_the_status_in_the_form_makes_the_transition(client, manager, place):
    appointment = _appointment(place, S.BOOKED, PAST)
    response = _post_change(client, appointment, status="no_show")
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert (appointment.status, appointment.status_changed_by) == (S.NO_SHOW, manager)
    assert _status_event(appointment).detail == "status booked -> no_show"


def test_the_status_field_offers_only_the_allowed_transitions(client, manager, place):
    appointment = _appointment(place, S.NO_SHOW, PAST)
    response = _post_change(client, appointment, status="completed")
    assert "Select a valid choice" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == S.NO_SHOW


def test_editing_staff_notes_saves_and_audits_only_that_field(client, manager, place):
    appointment = _appointment(place, S.BOOKED, FUTURE)
    response = _post_change(client, appointment, staff_notes="Prefers afternoons.")
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert (appointment.staff_notes, appointment.status) == ("Prefers afternoons.", S.BOOKED)
    event = AuditEvent.objects.get(object_type="appointment")
    assert (event.actor, event.action, event.fields) == (manager, "update", ["staff_notes"])


def test_an_appointment_cannot_be_deleted_in_the_admin(client, manager, place):
    appointment = _appointment(place, S.BOOKED, FUTURE)
    response = client.post(reverse("admin:bookings_appointment_delete", args=[appointment.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Appointment.objects.filter(pk=appointment.pk).exists()
