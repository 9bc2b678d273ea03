"""The dashboard's snapshots: the page shows figures computed at most DASHBOARD_CACHE_SECONDS ago
and says when; "Refresh figures" recomputes; beat computes the default view ahead; a cache that
is down costs the snapshot, never the page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings import tasks
from bookings.dashboard import dashboard_snapshots_refresh
from bookings.models import Appointment, Location
from bookings.tests.factories import AppointmentFactory, LocationFactory
from clients.tests.factories import staff_user
from smpclinic.celery import app
from smpclinic.tests.logins import login_as

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
URL = "/admin/dashboard/"
PERIOD = {"date_from": "2026-06-01", "date_to": "2026-06-14"}


@pytest.fixture
def snapshots(settings, frozen_now):
    settings.DASHBOARD_CACHE_SECONDS = 600
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def manager(client):
    login_as(client, staff_user(role="Manager"))
    return client


def consultation(location, day: int) -> Appointment:
    start = datetime(2026, 6, day, 10, tzinfo=LONDON)
    return AppointmentFactory(
        location=location, start=start, end=start + timedelta(hours=1), kind=Appointment.Kind.CONSULTATION
    )


def consultations_shown(response) -> int:
    """The consultations card: "Consultations, sessions, touch-ups" then "n, n, n"."""
    html = response.content.decode()
    match = re.search(r'id="card-appointments"><dt>[^<]*</dt><dd>(\d+),', html)
    assert match, "the appointments card is missing"
    return int(match.group(1))


def figure_queries(client, params=PERIOD) -> list[str]:
    """The page's SQL that counts appointments (the figures), not the session or the menus."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"] and "bookings_appointment" in q["sql"]]


def test_the_page_shows_its_snapshot_until_refreshed(manager, snapshots):
    location = LocationFactory()
    consultation(location, 2)
    first = manager.get(URL, PERIOD)
    assert consultations_shown(first) == 1
    assert "Figures as of 10 June 2026, 10:30" in first.content.decode()

    consultation(location, 3)
    # Within the snapshot's life the page shows what it computed, and says when, without counting.
    assert consultations_shown(manager.get(URL, PERIOD)) == 1
    assert figure_queries(manager) == []

    # "Refresh figures" carries the period and recomputes at once.
    link = re.search(r'<a href="\?([^"]*fresh=1[^"]*)">Refresh figures</a>', first.content.decode()).group(1)
    assert "date_from=2026-06-01" in link
    assert "date_to=2026-06-14" in link
    assert consultations_shown(manager.get(f"{URL}?{link.replace('&amp;', '&')}")) == 2
    assert consultations_shown(manager.get(URL, PERIOD)) == 2


def test_a_snapshot_runs_out_after_its_seconds(manager, snapshots, frozen_now):
    location = LocationFactory()
    consultation(location, 2)
    assert consultations_shown(manager.get(URL, PERIOD)) == 1
    consultation(location, 3)
    with time_machine.travel(frozen_now + timedelta(seconds=599), tick=False):
        assert consultations_shown(manager.get(URL, PERIOD)) == 1
    with time_machine.travel(frozen_now + timedelta(seconds=601), tick=False):
        assert consultations_shown(manager.get(URL, PERIOD)) == 2


def test_a_snapshot_from_a_later_clock_is_not_used(manager, snapshots, frozen_now):
    location = LocationFactory()
    with time_machine.travel(frozen_now + timedelta(minutes=5), tick=False):
        assert consultations_shown(manager.get(URL, PERIOD)) == 0
    consultation(location, 2)
    # The clock set back (as a test or a corrected server clock does): computed afresh.
    with time_machine.travel(frozen_now, tick=False):
        assert consultations_shown(manager.get(URL, PERIOD)) == 1


def test_each_location_has_its_own_snapshot(manager, snapshots):
    leeds, york = LocationFactory(), LocationFactory()
    consultation(leeds, 2)
    assert consultations_shown(manager.get(URL, {**PERIOD, "location": leeds.pk})) == 1
    assert consultations_shown(manager.get(URL, {**PERIOD, "location": york.pk})) == 0
    assert consultations_shown(manager.get(URL, PERIOD)) == 1


def test_beat_computes_the_default_view_for_every_location_ahead(manager, snapshots, frozen_now):
    leeds, york = LocationFactory(), LocationFactory()
    LocationFactory(is_active=False)
    consultation(leeds, 8)
    open_locations = Location.objects.filter(is_active=True).count()
    # Every location together, and each open one.
    assert dashboard_snapshots_refresh(now=frozen_now) == 1 + open_locations
    # The default view (the last twelve weeks, no filter) and each location's open without counting.
    assert figure_queries(manager, {}) == []
    assert figure_queries(manager, {"location": york.pk}) == []
    assert consultations_shown(manager.get(URL, {"location": leeds.pk})) == 1
    assert app.conf.beat_schedule["dashboard-snapshots"]["task"] == "bookings.dashboard_snapshots_refresh"
    assert tasks.dashboard_snapshots_refresh.name == "bookings.dashboard_snapshots_refresh"


def test_with_snapshots_off_every_load_counts(manager, settings, frozen_now):
    settings.DASHBOARD_CACHE_SECONDS = 0
    location = LocationFactory()
    consultation(location, 2)
    assert consultations_shown(manager.get(URL, PERIOD)) == 1
    consultation(location, 3)
    assert consultations_shown(manager.get(URL, PERIOD)) == 2
    assert dashboard_snapshots_refresh(now=frozen_now) == 0


def test_a_cache_that_is_down_costs_the_snapshot_not_the_page(manager, settings, frozen_now):
    settings.DASHBOARD_CACHE_SECONDS = 600
    # A Redis that refuses connections (nothing listens on port 1).
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
    location = LocationFactory()
    consultation(location, 2)
    assert consultations_shown(manager.get(URL, PERIOD)) == 1
    consultation(location, 3)
    assert consultations_shown(manager.get(URL, PERIOD)) == 2
