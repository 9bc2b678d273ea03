"""The course planner with a first date typed far off (year 9999): a message on the form, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.models import Course
from clients.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("first_date", ["9999-12-31", "0001-01-01"])
def test_a_first_date_at_the_calendars_end_is_refused_with_a_message(client, clinic, first_date):
    client.login(username="tech", password=PASSWORD)
    response = client.post(
        reverse("staff:course_plan", args=[clinic["consultation"].pk]),
        {
            "action": "propose",
            "treatment": clinic["course"].treatment.pk,
            "planned_sessions": 3,
            "price_band": "N4",
            "first_date": first_date,
        },
    )
    assert response.status_code == 400
    assert "within 5 years" in response.content.decode()
    assert response.context["form"].data["first_date"] == first_date  # what was typed stays on the form
    assert Course.objects.count() == 1  # only the clinic fixture's course
