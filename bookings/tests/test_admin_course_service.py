"""The course page in the admin is one more caller of the course services: an edit is checked
against the treatment and the course's sessions, saved under the course's lock and audited by
field name (it used to be saved as a bare row, with no rules and no audit)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from bookings.models import Appointment, Course
from bookings.services.appointments import appointment_staff_cancel
from bookings.services.courses import course_create, course_update
from bookings.tests.factories import AppointmentFactory, CourseFactory, UserFactory
from clients.models import AuditEvent
from clients.tests.factories import ClientFactory, staff_user
from smpclinic.tests.logins import login_as
from treatments.money import minor_to_pounds
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def course():
    # The factory's treatment is planned as 2-3 sessions.
    return CourseFactory(treatment=TreatmentFactory(sessions_min=2, sessions_max=3), planned_sessions=3)


def _session(course: Course, number: int, status=Appointment.Status.BOOKED, days: int = 10) -> Appointment:
    start = NOW + timedelta(days=days * number)
    return AppointmentFactory(
        client=course.client,
        course=course,
        kind=Appointment.Kind.TREATMENT_SESSION,
        treatment=course.treatment,
        session_number=number,
        status=status,
        start=start,
        end=start + timedelta(hours=3),
        completed_at=start + timedelta(hours=3) if status == Appointment.Status.COMPLETED else None,
    )


def _form(course: Course, **changes) -> dict:
    data = {
        "treatment": course.treatment_id,
        "planned_sessions": course.planned_sessions,
        "price_band": course.price_band,
        "price_agreed_minor": ""
        if course.price_agreed_minor is None
        else str(minor_to_pounds(course.price_agreed_minor)),
        "status": course.status,
        "notes": course.notes,
        # The appointments inline is read-only: its rows post nothing to save.
        "appointments-TOTAL_FORMS": "0",
        "appointments-INITIAL_FORMS": "0",
        "appointments-MIN_NUM_FORMS": "0",
        "appointments-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def _errors(response) -> list[str]:
    return re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S)


def _course_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="course").order_by("pk"))


@pytest.mark.parametrize("role", ["Manager", "Reception"])
def test_an_edit_in_the_admin_writes_one_audit_row_naming_the_changed_fields(client, course, role):
    user = staff_user(role=role)
    login_as(client, user)
    url = reverse("admin:bookings_course_change", args=[course.pk])

    response = client.post(url, _form(course, planned_sessions="2", notes="Client prefers mornings."))

    assert response.status_code == 302, _errors(response)
    course.refresh_from_db()
    assert (course.planned_sessions, course.notes) == (2, "Client prefers mornings.")
    [event] = _course_events()
    assert (event.action, event.actor, event.object_id, event.client_id_ref) == (
        AuditEvent.Action.UPDATE,
        user,
        str(course.pk),
        course.client_id,
    )
    assert event.fields == ["notes", "planned_sessions"]
    assert "mornings" not in str(event.fields) + event.detail  # names only, never the values


def test_planned_sessions_outside_the_treatments_range_are_refused_with_a_form_error_and_nothing_saved(client, course):
    # 5 passes the table's own check (1-5): only the service knows this treatment is 2-3 sessions.
    login_as(client, staff_user(role="Manager"))
    url = reverse("admin:bookings_course_change", args=[course.pk])

    response = client.post(url, _form(course, planned_sessions="5", notes="Changed too."))

    assert response.status_code == 200
    assert any("planned as 2-3 sessions" in e for e in _errors(response)), _errors(response)
    course.refresh_from_db()
    assert (course.planned_sessions, course.notes) == (3, "")
    assert _course_events() == []


def test_fewer_planned_sessions_than_are_booked_is_refused(client, course):
    for number in (1, 2, 3):
        _session(course, number)
    login_as(client, staff_user(role="Reception"))

    response = client.post(
        reverse("admin:bookings_course_change", args=[course.pk]), _form(course, planned_sessions="2")
    )

    assert response.status_code == 200
    assert any("3 sessions of this course are booked or done" in e for e in _errors(response))
    course.refresh_from_db()
    assert course.planned_sessions == 3
    assert _course_events() == []


def test_a_course_with_a_booked_session_is_not_cancelled_and_one_without_is(client, course):
    login_as(client, staff_user(role="Reception"))
    url = reverse("admin:bookings_course_change", args=[course.pk])
    session = _session(course, 1)

    refused = client.post(url, _form(course, status=Course.Status.CANCELLED))

    assert refused.status_code == 200
    assert any("still booked: cancel them first" in e for e in _errors(refused))
    course.refresh_from_db()
    assert course.status == Course.Status.PLANNED

    appointment_staff_cancel(appointment=session, by=staff_user(role="Reception"))
    done = client.post(url, _form(course, status=Course.Status.CANCELLED))

    assert done.status_code == 302, _errors(done)
    course.refresh_from_db()
    assert course.status == Course.Status.CANCELLED
    assert [e.fields for e in _course_events()] == [["status"]]


def test_the_treatment_is_fixed_once_a_session_is_booked(client, course):
    _session(course, 1)
    other = TreatmentFactory(sessions_min=1, sessions_max=3)
    login_as(client, staff_user(role="Manager"))

    response = client.post(reverse("admin:bookings_course_change", args=[course.pk]), _form(course, treatment=other.pk))

    assert response.status_code == 200
    assert any("plan a new course for another treatment" in e for e in _errors(response))
    course.refresh_from_db()
    assert course.treatment_id != other.pk


def test_a_course_added_in_the_admin_goes_through_course_create(client):
    manager = staff_user(role="Manager")
    login_as(client, manager)
    holder = ClientFactory()
    treatment = TreatmentFactory(sessions_min=2, sessions_max=3)
    data = _form(CourseFactory.build(client=holder, treatment=treatment), client=holder.pk, treatment=treatment.pk)
    data.pop("status")

    refused = client.post(reverse("admin:bookings_course_add"), {**data, "planned_sessions": "1"})
    assert refused.status_code == 200
    assert any("planned as 2-3 sessions" in e for e in _errors(refused))
    assert not Course.objects.exists()

    response = client.post(reverse("admin:bookings_course_add"), data)

    assert response.status_code == 302, _errors(response)
    course = Course.objects.get()
    assert (course.client, course.status) == (holder, Course.Status.PLANNED)
    [event] = _course_events()
    assert (event.action, event.actor, event.object_id) == (AuditEvent.Action.CREATE, manager, str(course.pk))
    assert event.fields == ["client", "planned_sessions", "treatment"]


def test_the_admin_cannot_delete_a_course_or_move_it_to_another_client(client, course):
    login_as(client, staff_user(role="Manager"))
    url = reverse("admin:bookings_course_change", args=[course.pk])
    other = ClientFactory()

    client.post(url, _form(course, client=other.pk, notes="x"))

    course.refresh_from_db()
    assert course.client_id != other.pk
    assert client.get(reverse("admin:bookings_course_delete", args=[course.pk])).status_code == 403


# The rules themselves, as every caller meets them -----------------------------------------------


def test_a_cancelled_course_reopens_at_the_status_its_sessions_give_it(course):
    by = UserFactory()
    _session(course, 1, status=Appointment.Status.COMPLETED, days=-10)
    course = course_update(course=course, data={"status": Course.Status.IN_PROGRESS}, by=by)
    assert course.status == Course.Status.IN_PROGRESS  # what its sessions give it, so allowed
    course = course_update(course=course, data={"status": Course.Status.CANCELLED}, by=by)

    with pytest.raises(ValidationError) as refused:
        course_update(course=course, data={"status": Course.Status.PLANNED}, by=by)

    assert refused.value.error_dict["status"][0].code == "course_status_follows_sessions"
    course = course_update(course=course, data={"status": Course.Status.IN_PROGRESS}, by=by)
    assert course.status == Course.Status.IN_PROGRESS


def test_a_new_plan_finishes_or_reopens_a_course(course):
    by = UserFactory()
    for number in (1, 2):
        _session(course, number, status=Appointment.Status.COMPLETED, days=-10)

    finished = course_update(course=course, data={"planned_sessions": 2}, by=by)
    assert (finished.status, finished.completed_at) == (Course.Status.COMPLETED, NOW)

    reopened = course_update(course=finished, data={"planned_sessions": 3}, by=by)
    assert (reopened.status, reopened.completed_at) == (Course.Status.IN_PROGRESS, None)
    assert [e.fields for e in _course_events()] == [
        ["completed_at", "planned_sessions", "status"],
        ["completed_at", "planned_sessions", "status"],
    ]


def test_a_completed_course_is_not_cancelled(course):
    by = UserFactory()
    for number in (1, 2, 3):
        _session(course, number, status=Appointment.Status.COMPLETED, days=-10)
    course = course_update(course=course, data={"notes": "All done."}, by=by)
    assert course.status == Course.Status.COMPLETED

    with pytest.raises(ValidationError) as refused:
        course_update(course=course, data={"status": Course.Status.CANCELLED}, by=by)

    assert refused.value.error_dict["status"][0].code == "course_transition_not_allowed"


def test_an_unchanged_save_writes_no_audit_row(course):
    course_update(course=course, data={"planned_sessions": 3, "notes": ""}, by=UserFactory())
    assert _course_events() == []


def test_course_create_refuses_fields_staff_do_not_set():
    with pytest.raises(ValueError, match="completed_at"):
        course_create(
            data={"client": ClientFactory(), "treatment": TreatmentFactory(), "completed_at": NOW}, by=UserFactory()
        )


def test_the_price_agreed_is_typed_in_pounds_and_stored_in_pence(client, course):
    login_as(client, staff_user(role="Manager"))
    url = reverse("admin:bookings_course_change", args=[course.pk])

    response = client.post(url, _form(course, price_agreed_minor="1,250.50"))

    assert response.status_code == 302, _errors(response)
    course.refresh_from_db()
    assert course.price_agreed_minor == 125050
    assert str(course.price_agreed_money) == "£1,250.50"
    assert _course_events()[-1].fields == ["price_agreed_minor"]


@pytest.mark.parametrize("typed", ["12,50", "1250.505", "1e3", "twelve", "-10", "NaN"])
def test_a_price_agreed_that_is_not_pounds_is_a_form_error_not_a_500(client, course, typed):
    login_as(client, staff_user(role="Manager"))
    before = course.price_agreed_minor
    url = reverse("admin:bookings_course_change", args=[course.pk])

    response = client.post(url, _form(course, price_agreed_minor=typed))

    assert response.status_code == 200
    assert any("Enter" in error for error in _errors(response)), _errors(response)
    course.refresh_from_db()
    assert course.price_agreed_minor == before
    assert _course_events() == []
