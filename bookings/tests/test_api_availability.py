"""GET /api/availability/: free times per day, in UK time with UTC offsets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    BreakFactory,
    ClosureFactory,
    LocationFactory,
    TimeOffFactory,
    technician_working,
)
from treatments.tests.factories import TreatmentFactory

pytestmark = pytest.mark.django_db
URL = reverse("bookings:api_availability")


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2026, 3, 1, 9, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=0, buffer_after_minutes=0)
    return LocationFactory(slug="manchester")


def test_it_lists_free_times_with_utc_offsets_across_the_spring_clock_change(client, location):
    tech = technician_working(location=location)
    response = client.get(URL, {"location": "manchester", "kind": "consultation", "start": "2026-03-28", "days": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "Europe/London"
    saturday, sunday = body["days"]
    assert saturday["date"] == "2026-03-28"
    assert saturday["times"][0] == {
        "start": "2026-03-28T09:00:00+00:00",
        "end": "2026-03-28T09:45:00+00:00",
        "technicians": [tech.pk],
    }
    assert sunday["times"][0]["start"] == "2026-03-29T09:00:00+01:00"
    assert sunday["times"][-1]["end"] == "2026-03-29T17:00:00+01:00"


def test_it_lists_free_times_on_the_autumn_clock_change(client, location):
    technician_working(location=location)
    with time_machine.travel(datetime(2027, 10, 1, tzinfo=UTC), tick=False):
        body = client.get(URL, {"location": "manchester", "start": "2027-10-30", "days": 2}).json()
    assert body["days"][0]["times"][0]["start"] == "2027-10-30T09:00:00+01:00"
    assert body["days"][1]["times"][0]["start"] == "2027-10-31T09:00:00+00:00"


def test_it_filters_by_technician_and_shows_who_is_free(client, location):
    first = technician_working(location=location)
    second = technician_working(location=location)
    AppointmentFactory(technician=first, location=location, start=datetime(2026, 3, 2, 9, tzinfo=UTC))
    body = client.get(URL, {"location": "manchester", "start": "2026-03-02", "days": 1}).json()
    assert body["days"][0]["times"][0]["technicians"] == [second.pk]
    assert body["days"][0]["times"][-1]["technicians"] == [first.pk, second.pk]
    only_first = client.get(
        URL, {"location": "manchester", "start": "2026-03-02", "days": 1, "technician": first.pk}
    ).json()
    assert only_first["days"][0]["times"][0]["start"] == "2026-03-02T09:45:00+00:00"
    assert all(t["technicians"] == [first.pk] for t in only_first["days"][0]["times"])


def test_treatment_sessions_last_the_treatments_session_length(client, location):
    treatment = TreatmentFactory(slug="hairline", session_minutes_min=120, session_minutes_max=240)
    tech = technician_working(location=location)
    tech.treatments.add(treatment)
    body = client.get(
        URL, {"location": "manchester", "kind": "session", "treatment": "hairline", "start": "2026-03-02", "days": 1}
    ).json()
    times = body["days"][0]["times"]
    assert times[0] == {
        "start": "2026-03-02T09:00:00+00:00",
        "end": "2026-03-02T13:00:00+00:00",
        "technicians": [tech.pk],
    }
    assert times[-1]["start"] == "2026-03-02T13:00:00+00:00"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "location"),
        ({"location": "nowhere"}, "location"),
        ({"location": "manchester", "kind": "massage"}, "kind"),
        ({"location": "manchester", "treatment": "nope"}, "treatment"),
        ({"location": "manchester", "start": "01/03/2026"}, "start"),
        ({"location": "manchester", "days": "many"}, "days"),
        ({"location": "manchester", "days": "0"}, "days"),
        ({"location": "manchester", "days": "1000"}, "days"),
        ({"location": "manchester", "technician": "x"}, "technician"),
        ({"location": "manchester", "technician": "999999"}, "technician"),
        ({"location": "manchester", "kind": "session"}, "treatment"),
        ({"location": "manchester", "length_minutes": "ten"}, "length_minutes"),
    ],
)
def test_bad_parameters_get_a_400_naming_the_parameter(client, location, params, parameter):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"]["parameter"] == parameter
    assert response.json()["error"]["message"]


def _clinic(location, *, technicians: int, appointments_per_tech: int):
    for _ in range(technicians):
        tech = technician_working(location=location)
        BreakFactory(technician=tech, weekday=0)
        TimeOffFactory(technician=tech, start=datetime(2026, 3, 10, 9, tzinfo=UTC))
        for n in range(appointments_per_tech):
            AppointmentFactory(
                technician=tech, location=location, start=datetime(2026, 3, 2, 10, tzinfo=UTC) + timedelta(days=n)
            )
    ClosureFactory(start_date=date(2026, 4, 3), end_date=date(2026, 4, 6), reason="Easter")


@pytest.mark.parametrize(("technicians", "appointments", "days"), [(1, 1, 7), (6, 40, 60)])
def test_query_count_is_constant_whatever_the_window_technicians_or_appointments(
    client, location, django_assert_max_num_queries, technicians, appointments, days
):
    _clinic(location, technicians=technicians, appointments_per_tech=appointments)
    with django_assert_max_num_queries(9):
        response = client.get(URL, {"location": "manchester", "start": "2026-03-02", "days": days})
    assert response.status_code == 200
    assert len(response.json()["days"]) == days


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("location=%00", "location"),
        ("location=manchester&treatment=%00", "treatment"),
        ("location=man%00chester", "location"),
    ],
)
def test_a_null_character_in_a_parameter_is_a_400_naming_it(client, location, query, parameter):
    # PostgreSQL would refuse a NUL in the query with a ValueError: a 500, not a 400.
    response = client.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["parameter"] == parameter
