"""What the booking POST may cost while the client waits: its queries, the rate limit's round
trip, and the coded errors of the constraints it leaves to the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from bookings import ratelimit
from bookings.models import Appointment, ClientMessage
from bookings.services.booking import appointment_book
from bookings.tests.factories import (
    AppointmentFactory,
    BookingPolicyFactory,
    CourseFactory,
    LocationFactory,
    technician_working,
)
from clients.models import AuditEvent, ConsentRecord, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
SLOT = datetime(2026, 12, 1, 10, tzinfo=UTC)
# The booking POST of someone new, once the process has the clinic's rarely-changing rows
# (bookings.booking_refdata), in one transaction without savepoints: the records under the e-mail
# or phone given (none: nothing to count against the no-show limit, no holder of the address),
# the client, the consent, their two audit rows in one INSERT, the technicians locked, the one
# availability read under the lock (hours, breaks, time off, appointments and closures in one
# UNION ALL), the appointment and its outbox rows; BEGIN and COMMIT make ten. Raise it only for
# a guarantee the booking did not have before. (On SQLite, a laptop's database, the schedules are
# read in five queries.)
SCHEDULE_QUERIES = 1 if connection.vendor == "postgresql" else 5
BOOKING_POST_QUERIES = 9 + SCHEDULE_QUERIES
# Someone with records under that e-mail or phone: their no-shows are counted too.
BOOKING_POST_QUERIES_KNOWN = BOOKING_POST_QUERIES + 1
# The first POST after a change to those rows reads them again: the clinic by its slug, its
# booking policy, the consent wordings and the deposit policy.
BOOKING_POST_QUERIES_COLD = BOOKING_POST_QUERIES + 4


@pytest.fixture(autouse=True)
def _setup():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=12, buffer_after_minutes=15)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester")
    # Several candidates with bookings that day: the budget must not grow with either.
    for n in range(3):
        technician = technician_working(location=location)
        for hour in (9, 13 + n):
            AppointmentFactory(technician=technician, location=location, start=SLOT.replace(hour=hour))
    return location


def _post(client, **overrides):
    data = {
        "location": "manchester",
        "start": SLOT.isoformat(),
        "first_name": "Sam",
        "last_name": "Taylor",
        "email": "sam@example.com",
        "phone": "07700 900123",
        "health_consent": "on",
        "date_of_birth": "1985-03-14",
        **overrides,
    }
    return client.post(reverse("bookings:book"), data)


def test_the_booking_post_stays_within_its_query_budget(client, location, django_assert_max_num_queries):
    assert _post(client, email="first@example.com", start=SLOT.replace(hour=11).isoformat()).status_code == 302
    with django_assert_max_num_queries(BOOKING_POST_QUERIES):
        response = _post(client, phone="07700 900456")
    assert response.status_code == 302
    # Nothing the booking owes was left out to meet the budget.
    appointment = Appointment.objects.get(client__email="sam@example.com")
    kinds = set(ClientMessage.objects.filter(appointment=appointment).values_list("kind", "channel"))
    assert kinds == {
        (ClientMessage.Kind.CONFIRMATION, ClientMessage.Channel.EMAIL),
        (ClientMessage.Kind.CONFIRMATION, ClientMessage.Channel.SMS),
        (ClientMessage.Kind.REMINDER_48H, ClientMessage.Channel.EMAIL),
        # A consultation more than two days ahead: the intake form's reminder, written in the same INSERT.
        (ClientMessage.Kind.INTAKE_REMINDER, ClientMessage.Channel.EMAIL),
    }
    assert ConsentRecord.objects.filter(client=appointment.client).exists()
    assert set(AuditEvent.objects.values_list("object_type", flat=True)) >= {"client", "consentrecord"}


def test_the_budget_does_not_grow_with_the_technicians_at_the_clinic(client, location, django_assert_max_num_queries):
    for _ in range(5):
        technician_working(location=location)
    assert _post(client, email="first@example.com", start=SLOT.replace(hour=11).isoformat()).status_code == 302
    with django_assert_max_num_queries(BOOKING_POST_QUERIES):
        assert _post(client, phone="07700 900456").status_code == 302


def test_a_contact_with_records_costs_one_more_query_their_no_shows(client, location, django_assert_max_num_queries):
    assert _post(client, email="first@example.com", start=SLOT.replace(hour=11).isoformat()).status_code == 302
    # The same phone as the first booking: the no-show limit counts that record's history.
    with django_assert_max_num_queries(BOOKING_POST_QUERIES_KNOWN):
        assert _post(client).status_code == 302


def test_the_first_booking_post_after_a_change_reads_the_clinics_rows_once(
    client, location, django_assert_max_num_queries
):
    with django_assert_max_num_queries(BOOKING_POST_QUERIES_COLD):
        assert _post(client).status_code == 302


def test_the_booked_page_the_post_redirects_to_stays_cheap(client, location, django_assert_max_num_queries):
    booked = _post(client)["Location"]
    with django_assert_max_num_queries(2):
        assert client.get(booked).status_code == 200


def test_any_technician_goes_to_the_least_booked_free_one_under_the_lock(location):
    # Two are free at 10:00 (the third is not); of those, the one with fewer minutes that day.
    busy, light, taken = location.technicians.order_by("pk")
    AppointmentFactory(technician=busy, location=location, start=SLOT.replace(hour=15))
    AppointmentFactory(technician=taken, location=location, start=SLOT)
    appointment = appointment_book(
        client=ClientFactory(), location=location, kind="consultation", start=SLOT, channel="online"
    )
    assert appointment.technician == light


def test_a_constraint_left_to_the_database_still_gives_its_coded_error(location):
    # Not checked before the INSERT any more (a query per constraint): the database refuses it
    # and the caller gets the same coded ValidationError full_clean gave.
    with pytest.raises(ValidationError) as exc:
        appointment_book(
            client=ClientFactory(),
            location=location,
            kind="consultation",
            start=SLOT,
            course=CourseFactory(),
            channel="staff",
        )
    codes = [error.code for error in exc.value.error_dict[NON_FIELD_ERRORS]]
    assert codes == ["appointment_consultation_not_in_course"]
    assert not Appointment.objects.filter(course__isnull=False).exists()


def test_the_rate_limit_counts_each_hit_in_a_window_that_expires(redis_url):
    backend = caches["default"]
    assert isinstance(backend, RedisCache)
    assert [ratelimit.booking_ip_limited("203.0.113.9") for _ in range(3)] == [False, False, False]
    key = backend.make_and_validate_key("bookings:rl:ip:203.0.113.9")
    redis = backend._cache.get_client(key)
    assert int(redis.get(key)) == 3
    assert 0 < redis.ttl(key) <= ratelimit.WINDOW_SECONDS


def test_the_rate_limit_refuses_past_the_limit(redis_url, settings):
    settings.BOOKING_RATE_LIMIT_PER_EMAIL = 2
    answers = [ratelimit.booking_email_limited("Sam@Example.com ") for _ in range(3)]
    assert answers == [False, False, True]


def test_the_rate_limit_lets_bookings_through_when_the_cache_is_down(caplog):
    # A real Redis client against a closed port: the outage itself, not a mock of it.
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    with override_settings(CACHES=down):
        assert ratelimit.booking_ip_limited("203.0.113.10") is False
        assert ratelimit.booking_email_limited("sam@example.com") is False
    assert "rate limit not counted (ConnectionError)" in caplog.text


def test_the_address_and_the_email_are_counted_in_one_round_trip(redis_url, settings):
    settings.BOOKING_RATE_LIMIT_PER_IP = 3
    settings.BOOKING_RATE_LIMIT_PER_EMAIL = 2
    answers = [ratelimit.booking_limited(ip="203.0.113.20", email=f"sam{n % 2}@example.com") for n in range(5)]
    # Three attempts within the address's limit (sam0 twice, sam1 once), then the address is over.
    assert answers == [False, False, False, True, True]
    backend = caches["default"]
    redis = backend._cache.get_client()
    ip_key = backend.make_and_validate_key("bookings:rl:ip:203.0.113.20")
    assert int(redis.get(ip_key)) == 5
    assert 0 < redis.ttl(ip_key) <= ratelimit.WINDOW_SECONDS
    # Past the address's limit the e-mails were not counted: an address over its limit cannot
    # use up other people's e-mail allowance.
    assert ratelimit.booking_email_limited("sam1@example.com") is False  # its second hit, not its third


def test_the_combined_count_lets_bookings_through_when_the_cache_is_down(caplog):
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    with override_settings(CACHES=down):
        assert ratelimit.booking_limited(ip="203.0.113.10", email="sam@example.com") is False
    assert "rate limit not counted (ConnectionError)" in caplog.text
