"""The technician's view of an appointment's state: each status a badge of its own colour (the
word too) on the schedule, appointment, history and the client's manage page; a touch-up named
once; completing a session before its booked end asks first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.models import Appointment
from bookings.templatetags.appointment_status import BADGES, status_badge
from clients.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_every_status_has_a_badge_of_its_own():
    assert set(BADGES) == set(Appointment.Status.values)
    assert len(set(BADGES.values())) == len(BADGES)
    assert status_badge("no_show") != status_badge("completed")


def test_a_completed_session_and_a_booked_one_look_different_on_the_record(client, clinic):
    client.login(username="tech", password=PASSWORD)
    body = client.get(reverse("staff:appointment", args=[clinic["note"].appointment.pk])).content.decode()
    assert f'<span class="badge {BADGES["completed"]}">Completed</span>' in body
    body = client.get(reverse("staff:appointment", args=[clinic["session"].pk])).content.decode()
    status = clinic["session"].status
    assert f'<span class="badge {BADGES[status]}">{clinic["session"].get_status_display()}</span>' in body


def test_a_touch_up_is_not_named_twice_on_the_schedule(client, clinic):
    from datetime import timedelta

    from django.utils import timezone

    from bookings.tests.factories import AppointmentFactory
    from treatments.tests.factories import TreatmentFactory

    start = timezone.localtime(clinic["session"].end) + timedelta(hours=1)
    touch_up = AppointmentFactory(
        client=clinic["client"],
        technician=clinic["technician"],
        location=clinic["here"],
        kind=Appointment.Kind.TOUCH_UP,
        treatment=TreatmentFactory(name="Touch-up", slug="touch-up-once"),
        start=start,
        end=start + timedelta(hours=2),
    )
    client.login(username="tech", password=PASSWORD)
    body = client.get(reverse("staff:schedule") + "?view=week").content.decode()
    row = body[body.index(f"/staff/appointments/{touch_up.pk}/") :].split("</a>")[0]
    assert "Touch-up" in row
    assert "Touch-up · Touch-up" not in row


def test_completing_a_session_before_its_booked_end_asks_first(client, clinic):
    """A tap by mistake minutes into a 3-hour session would start the aftercare from then."""
    import time_machine
    from django.utils import timezone

    session = clinic["session"]
    url = reverse("staff:complete", args=[session.pk])
    with time_machine.travel(session.start + (session.end - session.start) / 2, tick=False):
        client.login(username="tech", password=PASSWORD)  # staff sessions end after inactivity
        asked = client.post(url)
        assert asked.status_code == 200
        assert "Complete this session now?" in asked.content.decode()
        session.refresh_from_db()
        assert session.status != Appointment.Status.COMPLETED
        assert client.post(url, {"early": "confirmed"}).status_code == 302
        session.refresh_from_db()
        assert session.status == Appointment.Status.COMPLETED
        assert session.completed_at == timezone.now()
