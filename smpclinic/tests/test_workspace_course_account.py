"""The workspace's course page shows the course's account (price, deposits, payments, refunds,
balance) to the staff who take payments (in the workspace: managers), not to technicians."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Appointment
from bookings.payments.desk import desk_payment_record
from bookings.tests.factories import AppointmentFactory, CourseFactory, LocationFactory, TechnicianFactory
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def session():
    course = CourseFactory(price_agreed_minor=180000)
    location = LocationFactory()
    technician = TechnicianFactory(user=staff_user(role="Technician"), locations=[location])
    start = NOW + timedelta(days=2)
    appointment = AppointmentFactory(
        location=location,
        kind=Appointment.Kind.TREATMENT_SESSION,
        client=course.client,
        course=course,
        technician=technician,
        start=start,
        end=start + timedelta(hours=3),
    )
    desk_payment_record(
        by=staff_user(role="Reception"),
        kind="payment",
        amount_minor=60050,
        currency="GBP",
        method="card_terminal",
        course=course,
    )
    return appointment


def test_a_manager_sees_the_course_account(client, session, django_assert_max_num_queries):
    login_as(client, staff_user(role="Manager"))
    with django_assert_max_num_queries(25):
        response = client.get(reverse("staff:course_plan", args=[session.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<dd class="col-5 text-end" id="course-balance"><strong>£1,199.50</strong></dd>' in html
    assert reverse("admin:bookings_course_payment", args=[session.course_id]) in html


def test_the_technician_sees_no_money(client, session):
    login_as(client, session.technician.user)
    response = client.get(reverse("staff:course_plan", args=[session.pk]))
    assert response.status_code == 200
    assert "course-account" not in response.content.decode()
