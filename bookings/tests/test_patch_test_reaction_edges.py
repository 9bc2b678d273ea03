"""The patch-test rule at its edges: a move of the very session whose note records an allergic
reaction, and the days and times the refusals print (the clinic's own clock, not the server's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.models import Appointment
from bookings.services.appointments import appointment_staff_book, appointment_staff_move
from bookings.services.safety import BookingRefused
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from clients.models import SessionNote
from clients.tests.factories import ClientFactory, PatchTestFactory, SessionNoteFactory, staff_user
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)  # a Monday: 15:00 in London, 10:00 in New York
START = datetime(2026, 11, 10, 10, tzinfo=LONDON)  # a session asked for in Manchester


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def place():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    location = LocationFactory(slug="manchester", name="Manchester")
    # Only reactions and allergies call for a patch test here, not the treatment.
    treatment = TreatmentFactory(slug="density", name="Density", needs_patch_test=False, session_minutes_min=120)
    technician = technician_working(location=location, user=staff_user(role="Technician", username="tech"))
    technician.treatments.add(treatment)
    return {
        "location": location,
        "treatment": treatment,
        "technician": technician,
        "manager": staff_user(role="Manager", username="boss"),
    }


def _session(place, person, *, start, location=None, status=Appointment.Status.CONFIRMED):
    return AppointmentFactory(
        client=person,
        location=location or place["location"],
        technician=place["technician"],
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=place["treatment"],
        start=start,
        end=start + timedelta(hours=2),
        status=status,
        completed_at=start + timedelta(hours=2) if status == Appointment.Status.COMPLETED else None,
        cancelled_at=start + timedelta(hours=1) if status == Appointment.Status.CANCELLED else None,
    )


def _book(place, person, start=START):
    return appointment_staff_book(
        by=place["manager"],
        client=person,
        location=place["location"],
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=place["treatment"],
        technician=place["technician"],
        start=start,
    )


def test_moving_the_session_whose_note_records_the_reaction_needs_a_clear_patch_test_done_since(place):
    # The session began this morning, the pigment brought on an allergic reaction and was stopped:
    # reception moves the same appointment to next week to finish it.
    person = ClientFactory()
    reacted = _session(place, person, start=NOW - timedelta(hours=5))
    SessionNoteFactory(appointment=reacted, reactions=[SessionNote.Reaction.ALLERGIC])

    with pytest.raises(BookingRefused) as refused:
        appointment_staff_move(appointment=reacted, start=START, by=place["manager"])
    assert refused.value.code == "patch_test_after_reaction"
    reacted.refresh_from_db()
    assert reacted.start == NOW - timedelta(hours=5)

    PatchTestFactory(client=person, tested_at=NOW - timedelta(hours=1))  # clear, done since
    assert appointment_staff_move(appointment=reacted, start=START, by=place["manager"]).start == START


def test_a_reacting_session_moved_once_still_counts_its_reaction_when_moved_again(place):
    person = ClientFactory()
    reacted = _session(place, person, start=NOW - timedelta(hours=5))
    with time_machine.travel(NOW - timedelta(hours=4), tick=False):  # the note written after the session
        SessionNoteFactory(appointment=reacted, reactions=[SessionNote.Reaction.ALLERGIC])
    PatchTestFactory(client=person, tested_at=NOW - timedelta(hours=1))
    appointment_staff_move(appointment=reacted, start=START + timedelta(days=7), by=place["manager"])

    # Brought forward again: the test done since the reaction still counts, and still must be
    # 48 hours before; the reaction is not forgotten because the session now stands later.
    with pytest.raises(BookingRefused) as refused:
        appointment_staff_move(appointment=reacted, start=NOW + timedelta(hours=20), by=place["manager"])
    assert refused.value.code == "patch_test_too_recent"
    assert appointment_staff_move(appointment=reacted, start=START, by=place["manager"]).start == START


def test_a_reaction_at_a_session_later_cancelled_still_counts(place):
    person = ClientFactory()
    stopped = _session(place, person, start=NOW - timedelta(days=7), status=Appointment.Status.CANCELLED)
    SessionNoteFactory(appointment=stopped, reactions=[SessionNote.Reaction.ALLERGIC])
    with pytest.raises(BookingRefused) as refused:
        _book(place, person)
    assert refused.value.code == "patch_test_after_reaction"


def test_the_reaction_refusal_names_the_session_day_on_its_clinics_clock(place):
    person = ClientFactory()
    new_york = LocationFactory(slug="new-york", name="New York", time_zone="America/New_York")
    # 20:00 on Tuesday 20 October in New York is already Wednesday 21 October in London.
    evening = datetime(2026, 10, 20, 20, tzinfo=NEW_YORK)
    reacted = _session(place, person, start=evening, location=new_york, status=Appointment.Status.COMPLETED)
    SessionNoteFactory(appointment=reacted, reactions=[SessionNote.Reaction.ALLERGIC])

    with pytest.raises(BookingRefused, match="at the session of 20 Oct 2026"):
        _book(place, person)


def test_too_recent_says_when_the_session_can_start_on_the_clinics_clock(place):
    new_york = LocationFactory(slug="new-york", name="New York", time_zone="America/New_York")
    technician = technician_working(location=new_york)
    technician.treatments.add(place["treatment"])
    person = ClientFactory()
    earlier = _session(place, person, start=NOW - timedelta(days=20), status=Appointment.Status.COMPLETED)
    SessionNoteFactory(appointment=earlier, reactions=[SessionNote.Reaction.ALLERGIC])
    PatchTestFactory(client=person, tested_at=NOW - timedelta(hours=1))  # 09:00 in New York

    with pytest.raises(BookingRefused) as refused:
        appointment_staff_book(
            by=place["manager"],
            client=person,
            location=new_york,
            kind=Appointment.Kind.TREATMENT_SESSION,
            treatment=place["treatment"],
            technician=technician,
            start=datetime(2026, 11, 3, 10, tzinfo=NEW_YORK),
        )
    assert refused.value.code == "patch_test_too_recent"
    # 48 hours after 09:00 New York time on Monday: Wednesday 09:00 there (14:00 in London).
    assert "the session can start from Wed 04 Nov 2026 09:00" in refused.value.message
