"""Thirty clients press "Book" for the same technician and time at once (PostgreSQL).

Each request runs on its own thread with its own database connection (Django's connections
are per thread) and goes through the whole stack: middleware, form, service, template.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client

from bookings.models import Appointment
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, technician_working
from clients.models import ConsentWording
from clients.tests.factories import ConsentWordingFactory

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db(transaction=True)
CLIENTS = 30


def _attempt(n: int, start: str, barrier: threading.Barrier) -> tuple[int, str]:
    """One client's full request through Django's stack, on this thread's own DB connection."""
    try:
        client = Client()
        data = {
            "location": "race",
            "start": start,
            "first_name": "Client",
            "last_name": str(n),
            "email": f"racer{n}@example.com",
            "phone": "07700 900123",
            "health_consent": "on",
            "date_of_birth": "1985-03-14",
        }
        barrier.wait(timeout=60)
        response = client.post("/book/", data)
        return response.status_code, response.content.decode()
    finally:
        connections.close_all()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Rate-limit counters live in the shared cache: start and finish each test with none.
    cache.clear()
    yield
    cache.clear()


@pytest.mark.postgres
def test_thirty_simultaneous_bookings_of_one_time_give_exactly_one_appointment(postgres, settings, frozen_now):
    settings.BOOKING_RATE_LIMIT_PER_IP = 1000
    BookingPolicyFactory(minimum_notice_hours=0)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    location = LocationFactory(slug="race")
    tech = technician_working(location=location)
    day = frozen_now.astimezone(LONDON).date() + timedelta(days=7)  # an ordinary working day
    start = datetime.combine(day, time(10), tzinfo=LONDON).isoformat()

    barrier = threading.Barrier(CLIENTS)
    results: list[tuple[int, str]] = [None] * CLIENTS  # type: ignore[list-item]

    def run(n: int) -> None:
        results[n] = _attempt(n, start, barrier)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    statuses = sorted(status for status, _ in results)
    assert all(status < 500 for status in statuses), statuses
    assert statuses.count(302) == 1, statuses
    assert statuses.count(409) == CLIENTS - 1, statuses
    assert all("that time was just taken" in body for status, body in results if status == 409)

    booked = Appointment.objects.filter(technician=tech, status__in=Appointment.ACTIVE_STATUSES)
    assert booked.count() == 1
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM bookings_appointment a JOIN bookings_appointment b
              ON a.technician_id = b.technician_id AND a.id < b.id
             AND tstzrange(a.start, a."end") && tstzrange(b.start, b."end")
             WHERE a.status IN ('booked', 'confirmed', 'completed')
               AND b.status IN ('booked', 'confirmed', 'completed')
            """
        )
        assert cursor.fetchone()[0] == 0


def test_simultaneous_bookings_give_one_appointment_on_whichever_database_runs(settings, frozen_now):
    """The same race on the configured database: on SQLite the IMMEDIATE write transaction
    serialises the bookings (no exclusion constraint there), on PostgreSQL the row lock."""
    settings.BOOKING_RATE_LIMIT_PER_IP = 1000
    BookingPolicyFactory(minimum_notice_hours=0)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    location = LocationFactory(slug="race")
    tech = technician_working(location=location)
    # Two neighbouring times that overlap (45 minutes long, 15 minutes apart): still only one.
    day = frozen_now.astimezone(LONDON).date() + timedelta(days=7)  # an ordinary working day
    starts = [datetime.combine(day, time(11), tzinfo=LONDON), datetime.combine(day, time(11, 15), tzinfo=LONDON)]
    clients = 10
    barrier = threading.Barrier(clients)
    results: list[tuple[int, str]] = [None] * clients  # type: ignore[list-item]

    def run(n: int) -> None:
        results[n] = _attempt(n, starts[n % 2].isoformat(), barrier)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    statuses = sorted(status for status, _ in results)
    assert statuses == [302] + [409] * (clients - 1), statuses
    rows = list(Appointment.objects.filter(technician=tech, status__in=Appointment.ACTIVE_STATUSES))
    assert len(rows) == 1
