"""Staff pages cost the same number of queries whether the client has 2 past sessions or 20."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Appointment
from bookings.tests.factories import AppointmentFactory
from clients.tests.conftest import PASSWORD
from clients.tests.factories import PhotoFactory, SessionNoteFactory

pytestmark = pytest.mark.django_db


def add_history(clinic, sessions: int, *, years_back: int) -> None:
    first = clinic["session"].start - timedelta(days=365 * years_back + 30)
    for n in range(sessions):
        start = first + timedelta(days=n * 15)
        appointment = AppointmentFactory(
            client=clinic["client"],
            technician=clinic["technician"],
            location=clinic["here"],
            kind=Appointment.Kind.TREATMENT_SESSION,
            start=start,
            end=start + timedelta(hours=3),
            status=Appointment.Status.COMPLETED,
            completed_at=start,
        )
        SessionNoteFactory(appointment=appointment, pigment_shade=f"shade {n}")
        PhotoFactory(client=clinic["client"], appointment=appointment, angle="crown", phase="before")
        PhotoFactory(client=clinic["client"], appointment=appointment, angle="crown", phase="after")


def count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "page",
    ["appointment", "client", "clients", "schedule", "compare", "consents", "session_note"],
)
def test_staff_pages_keep_a_constant_number_of_queries(client, clinic, page, django_assert_max_num_queries):
    client.login(username="tech", password=PASSWORD)
    urls = {
        "appointment": reverse("staff:appointment", args=[clinic["session"].pk]),
        "schedule": reverse("staff:schedule"),
        "client": reverse("staff:client", args=[clinic["client"].pk]),
        "clients": reverse("staff:clients"),
        "compare": reverse("staff:compare", args=[clinic["client"].pk]) + "?angle=crown",
        "consents": reverse("staff:consents", args=[clinic["client"].pk]),
        "session_note": reverse("staff:session_note", args=[clinic["session"].pk]),
    }
    url = urls[page]
    add_history(clinic, 2, years_back=1)
    small = count(client, url)
    add_history(clinic, 18, years_back=3)
    with django_assert_max_num_queries(small):
        client.get(url)
    assert small <= 16
