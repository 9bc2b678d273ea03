"""Staff who type an end before a start in the admin read what is wrong in words, not the
database constraint's name ("Constraint “closure_end_not_before_start” is violated.")."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from bookings.models import Appointment, Closure, TimeOff
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from bookings.tests.test_booking_admin import _management_forms, _post_add
from clients.tests.factories import ClientFactory
from smpclinic.tests.logins import login_as

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("boss", "boss@smpclinic.example", "a-long-test-password")
    login_as(client, user)
    return client


def test_an_appointment_ending_before_it_starts_is_explained(staff):
    BookingPolicyFactory()
    location = LocationFactory()
    tech = technician_working(location=location)
    start = datetime.combine(datetime(2026, 12, 1).date(), time(10), tzinfo=LONDON)
    with time_machine.travel(datetime(2026, 11, 2, 8, tzinfo=UTC), tick=False):
        response = _post_add(
            staff,
            kind="consultation",
            client=ClientFactory().pk,
            technician=tech.pk,
            location=location.pk,
            start=start,
            end=start - timedelta(hours=1),
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert "The appointment must end after it starts." in html
    assert "appointment_end_after_start" not in html
    assert not Appointment.objects.exists()


def test_a_closure_ending_before_it_starts_is_explained(staff):
    response = staff.post(
        reverse("admin:bookings_closure_add"), {"reason": "Refit", "start_date": "10/12/2026", "end_date": "01/12/2026"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "The last day of the closure cannot be before its first day." in html
    assert "closure_end_not_before_start" not in html
    assert not Closure.objects.exists()


def test_time_off_ending_before_it_starts_is_explained_on_the_technician_page(staff):
    tech = technician_working(location=LocationFactory())
    url = reverse("admin:bookings_technician_change", args=[tech.pk])
    page = staff.get(url)
    data = _management_forms(page.content.decode())
    form = page.context["adminform"].form
    data.update(
        {
            "user": tech.user_id,
            "display_name": tech.display_name,
            "locations": [str(pk) for pk in form.initial["locations"]],
            "is_active": "on",
            "time_off-TOTAL_FORMS": "1",
            "time_off-0-start_0": "01/12/2026",
            "time_off-0-start_1": "13:00:00",
            "time_off-0-end_0": "01/12/2026",
            "time_off-0-end_1": "09:00:00",
        }
    )
    for row in page.context["inline_admin_formsets"]:
        for n, inline_form in enumerate(row.formset.forms):
            for name, value in inline_form.initial.items():
                data.setdefault(
                    f"{row.formset.prefix}-{n}-{name}",
                    value.strftime("%H:%M:%S") if hasattr(value, "strftime") else value,
                )

    response = staff.post(url, data)

    html = response.content.decode()
    assert response.status_code == 200
    assert "The end of the time off must be after its start." in html
    assert not TimeOff.objects.exists()
