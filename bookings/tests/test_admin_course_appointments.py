"""The course page in the admin lists its appointments read-only, with links: a status or time
typed there used to be saved around the engine and the services (and a status of completed
or cancelled, or a new row, crashed with an IntegrityError)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory, CourseFactory
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def course():
    course = CourseFactory()
    start = NOW + timedelta(days=10)
    AppointmentFactory(
        client=course.client,
        course=course,
        kind="session",
        session_number=1,
        treatment=course.treatment,
        start=start,
        end=start + timedelta(hours=3),
    )
    return course


@pytest.mark.parametrize("role", ["Manager", "Reception"])
def test_the_course_page_lists_its_appointments_with_links_and_no_inputs(client, course, role):
    login_as(client, staff_user(role=role))
    appointment = course.appointments.get()

    html = client.get(reverse("admin:bookings_course_change", args=[course.pk])).content.decode()

    assert reverse("admin:bookings_appointment_change", args=[appointment.pk]) in html
    assert 'name="appointments-0-status"' not in html
    assert 'name="appointments-0-start_0"' not in html


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_a_status_posted_in_the_course_inline_changes_nothing_and_does_not_crash(client, course, status):
    client.force_login(staff_user(role="Reception"))
    appointment = course.appointments.get()
    url = reverse("admin:bookings_course_change", args=[course.pk])
    local_start, local_end = appointment.start.astimezone(LONDON), appointment.end.astimezone(LONDON)
    data = {
        "client": course.client_id,
        "treatment": course.treatment_id,
        "planned_sessions": course.planned_sessions,
        "status": course.status,
        "appointments-TOTAL_FORMS": "1",
        "appointments-INITIAL_FORMS": "1",
        "appointments-MIN_NUM_FORMS": "0",
        "appointments-MAX_NUM_FORMS": "1000",
        "appointments-0-id": appointment.pk,
        "appointments-0-course": course.pk,
        "appointments-0-kind": appointment.kind,
        "appointments-0-session_number": appointment.session_number,
        "appointments-0-start_0": local_start.strftime("%d/%m/%Y"),
        "appointments-0-start_1": local_start.strftime("%H:%M:%S"),
        "appointments-0-end_0": local_end.strftime("%d/%m/%Y"),
        "appointments-0-end_1": local_end.strftime("%H:%M:%S"),
        "appointments-0-technician": appointment.technician_id,
        "appointments-0-status": status,
    }

    client.raise_request_exception = True
    response = client.post(url, data)

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
