from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory, CourseFactory, LocationFactory, TechnicianFactory
from clients.tests.factories import (
    AssessmentFactory,
    ClientFactory,
    PatchTestFactory,
    PhotoFactory,
    SessionNoteFactory,
    staff_user,
)
from treatments.tests.factories import TreatmentFactory

PASSWORD = "a-long-test-password"


@pytest.fixture
def clinic(db, frozen_now):
    """Two locations; a technician at each; a client with a consultation and a session today at the first.

    The test runs at the frozen `now` (an ordinary weekday unless the test overrides the `now`
    fixture) and every date here is derived from it, so "today" never depends on the real date.
    """
    here, elsewhere = LocationFactory(name="Manchester"), LocationFactory(name="Nottingham")
    technician = TechnicianFactory(user=staff_user(role="Technician", username="tech"), locations=[here])
    other = TechnicianFactory(user=staff_user(role="Technician", username="othertech"), locations=[elsewhere])
    client = ClientFactory()
    now = timezone.localtime(frozen_now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # Today's session started a little while ago (so it can be completed), never yesterday.
    start = max(now - timedelta(minutes=30), midnight + timedelta(minutes=1)).replace(second=0, microsecond=0)
    course = CourseFactory(client=client, treatment=TreatmentFactory(slug="hairline-design"), planned_sessions=3)
    consultation = AppointmentFactory(
        client=client,
        technician=technician,
        location=here,
        start=start - timedelta(days=30),
        end=start - timedelta(days=30) + timedelta(minutes=45),
    )
    assessment = AssessmentFactory(
        client=client, appointment=consultation, contraindications="Keloid scarring", allergies="Nickel"
    )
    # Her allergies call for a patch test before any first session: done, clear, at the consultation.
    patch_test = PatchTestFactory(client=client, appointment=None, tested_at=consultation.start)
    session = AppointmentFactory(
        client=client,
        technician=technician,
        location=here,
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=course.treatment,
        course=course,
        session_number=2,
        start=start,
        end=start + timedelta(hours=3),
    )
    photo = PhotoFactory(client=client, appointment=consultation)
    note = SessionNoteFactory(
        appointment=AppointmentFactory(
            client=client,
            technician=technician,
            location=here,
            kind=Appointment.Kind.TREATMENT_SESSION,
            treatment=course.treatment,
            course=course,
            session_number=1,
            start=start - timedelta(days=14),
            end=start - timedelta(days=14) + timedelta(hours=3),
            status=Appointment.Status.COMPLETED,
            completed_at=start - timedelta(days=14),
        ),
        next_time_notes="Darken the crown slightly",
    )
    return {
        "here": here,
        "elsewhere": elsewhere,
        "technician": technician,
        "other": other,
        "client": client,
        "consultation": consultation,
        "session": session,
        "assessment": assessment,
        "patch_test": patch_test,
        "photo": photo,
        "note": note,
        "course": course,
        "manager": staff_user(role="Manager", username="boss"),
        "reception": staff_user(role="Reception", username="desk"),
    }
