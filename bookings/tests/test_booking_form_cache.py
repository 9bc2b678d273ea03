"""GET /book/?location=... served to anonymous visitors from the page cache (bookings.pagecache):
its free times follow every booking and the minimum notice, and each visitor gets their own
CSRF token."""

from __future__ import annotations

import re
import socket
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Appointment, Closure, Technician
from bookings.pagecache import CSRF_PLACEHOLDER
from bookings.services.booking import appointment_cancel, online_consultation_book
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, WorkingHoursFactory, technician_working
from clients.models import ConsentWording
from clients.tests.factories import ConsentWordingFactory

pytestmark = pytest.mark.django_db
BOOK = reverse("bookings:book")
# Monday 2 November 2026, 08:00 in London (GMT): 12 hours' notice makes Tuesday 09:00 the first time.
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
FIRST = "2026-11-03T09:00:00+00:00"
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def page_cache(settings):
    settings.PAGE_CACHE_SECONDS = 600
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester", name="Manchester", phone="0161 496 0000")
    technician_working(location=location, end=time(20))
    return location


def _starts(html: str) -> list[str]:
    return re.findall(r'name="start" id="t-[a-z0-9-]+" value="([^"]+)"', html)


def _get(client, **params) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(BOOK, {"location": "manchester", **params})
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_second_visitor_gets_the_form_from_the_cache_with_a_token_of_their_own(
    location, page_cache, django_assert_max_num_queries
):
    first, second = Client(), Client()
    with time_machine.travel(NOW, tick=False):
        rendered_queries, rendered = _get(first)
        with django_assert_max_num_queries(0):
            cached = second.get(BOOK, {"location": "manchester"})
    assert rendered_queries > 0
    html = cached.content.decode()
    assert _starts(html) == _starts(rendered)
    assert FIRST in _starts(html)
    assert CSRF_PLACEHOLDER not in html
    assert _TOKEN.search(html).group(1) != _TOKEN.search(rendered).group(1)
    assert "csrftoken" in cached.cookies


def test_a_booking_posted_with_the_token_from_a_cached_form_goes_through(location, page_cache):
    Client().get(BOOK, {"location": "manchester"})  # someone else's visit fills the cache
    visitor = Client(enforce_csrf_checks=True)
    with time_machine.travel(NOW, tick=False):
        Client().get(BOOK, {"location": "manchester"})
        queries, html = _get(visitor)
        assert queries == 0
        response = visitor.post(
            BOOK,
            {
                "csrfmiddlewaretoken": _TOKEN.search(html).group(1),
                "location": "manchester",
                "treatment": "",
                "start": FIRST,
                "first_name": "Sam",
                "last_name": "Taylor",
                "email": "sam@example.com",
                "phone": "07700 900123",
                "health_consent": "on",
                "date_of_birth": "1985-03-14",
            },
        )
    assert response.status_code == 302
    assert Appointment.objects.count() == 1


def _book_first(location) -> Appointment:
    return online_consultation_book(
        location=location,
        start=datetime.fromisoformat(FIRST),
        treatment=None,
        first_name="Sam",
        last_name="Taylor",
        email="sam@example.com",
        phone="07700 900123",
        description="",
        health_consent=True,
        marketing_opt_in=False,
        date_of_birth=date(1985, 3, 14),
    )


def test_a_time_just_booked_is_gone_from_the_next_form(location, page_cache, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        _get(Client())
        assert _get(Client())[0] == 0  # cached
        with django_capture_on_commit_callbacks(execute=True):  # the booking's transaction commits
            _book_first(location)
        _, html = _get(Client())
    assert FIRST not in _starts(html)
    assert _starts(html)[0] == "2026-11-03T10:00:00+00:00"


def test_a_cancelled_appointment_gives_its_time_back_on_the_next_form(
    location, page_cache, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        appointment = _book_first(location)
        assert FIRST not in _starts(_get(Client())[1])
        assert _get(Client())[0] == 0  # cached
        with django_capture_on_commit_callbacks(execute=True):
            appointment_cancel(appointment=appointment, by_client=True)
        assert FIRST in _starts(_get(Client())[1])


def test_a_closure_takes_its_day_off_the_next_form(location, page_cache, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        assert FIRST in _starts(_get(Client())[1])
        with django_capture_on_commit_callbacks(execute=True):
            Closure.objects.create(
                location=location, start_date=date(2026, 11, 3), end_date=date(2026, 11, 3), reason="Refit"
            )
        html = _get(Client())[1]
    assert not any(start.startswith("2026-11-03") for start in _starts(html))


def test_the_minimum_notice_moves_the_cached_times_on_within_five_minutes(location, page_cache):
    with time_machine.travel(NOW, tick=False):
        assert _starts(_get(Client())[1])[0] == FIRST
    # 21:07: twelve hours' notice now reaches past Tuesday 09:00; the page from 08:00 is stale.
    with time_machine.travel(datetime(2026, 11, 2, 21, 7, tzinfo=UTC), tick=False):
        queries, html = _get(Client())
    assert queries > 0
    assert FIRST not in _starts(html)
    assert _starts(html)[0] == "2026-11-03T09:15:00+00:00"


def test_a_form_asked_with_an_unknown_parameter_is_rendered_each_time(location, page_cache):
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            response = Client().get(BOOK, {"location": "manchester", "utm_source": "mail"})
        assert response.status_code == 200
        assert len(queries) > 0


def test_signed_in_staff_get_the_form_rendered(location, page_cache, admin_client):
    with time_machine.travel(NOW, tick=False):
        _get(Client())
        assert _get(Client())[0] == 0
        assert _get(admin_client)[0] > 0


@pytest.fixture
def redis_down():
    """The cache is a Redis that is not running: its port refuses connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = {
        "BACKEND": "smpclinic.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
    with override_settings(CACHES={"default": down}):
        yield


def test_the_form_renders_with_its_times_and_a_token_while_redis_is_down(location, page_cache, redis_down):
    with time_machine.travel(NOW, tick=False):
        _, html = _get(Client())
    assert FIRST in _starts(html)
    assert CSRF_PLACEHOLDER not in html
    assert _TOKEN.search(html)


@pytest.mark.parametrize("start", ["2027-06-01", "2026-11-31", "03/11/2026", "2026-11-02"])
def test_only_a_day_within_the_horizon_is_kept_and_the_same_day_asked_in_another_order_is_one_entry(
    location, page_cache, start
):
    kept = start == "2026-11-02"
    with time_machine.travel(NOW, tick=False):
        Client().get(BOOK, {"location": "manchester", "start": start})
        with CaptureQueriesContext(connection) as queries:
            Client().get(f"{BOOK}?start={start}&location=manchester")
    assert (len(queries) == 0) is kept


def test_a_search_that_shows_no_booking_form_is_not_kept(location, page_cache):
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            response = Client().get(BOOK, {"location": "nowhere"})
        assert response.status_code == 200
        assert len(queries) > 0


def test_a_technician_added_to_a_clinic_brings_their_times_to_its_next_form(
    location, page_cache, django_capture_on_commit_callbacks
):
    leeds = LocationFactory(slug="leeds", name="Leeds")
    technician = Technician.objects.get()
    WorkingHoursFactory(technician=technician, location=leeds, weekday=1, start_time=time(9), end_time=time(17))
    with time_machine.travel(NOW, tick=False):
        assert _starts(Client().get(BOOK, {"location": "leeds"}).content.decode()) == []
        with django_capture_on_commit_callbacks(execute=True):
            technician.locations.add(leeds)
        html = Client().get(BOOK, {"location": "leeds"}).content.decode()
    assert FIRST in _starts(html)
