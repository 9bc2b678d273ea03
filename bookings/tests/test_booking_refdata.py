"""The online booking's copy of rarely-changing rows (bookings.booking_refdata): a change takes
effect on the next booking, in this process at once and in the others within a second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from bookings import booking_refdata
from bookings.models import Appointment, BookingPolicy
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from clients.models import ConsentRecord, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
DAY = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _setup():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=12, buffer_after_minutes=15)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="manchester")
    technician_working(location=location)
    return location


def _post(client, hour: int, **overrides):
    data = {
        "location": "manchester",
        "start": DAY.replace(hour=hour).isoformat(),
        "first_name": "Sam",
        "last_name": "Taylor",
        "email": f"sam{hour}@example.com",
        "phone": "07700 900123",
        "health_consent": "on",
        "date_of_birth": "1985-03-14",
        **overrides,
    }
    return client.post(reverse("bookings:book"), data)


def test_a_policy_change_takes_effect_on_the_next_booking(client, location):
    assert _post(client, 10).status_code == 302  # the policy is now in the process's copy
    policy = BookingPolicy.objects.get(location__isnull=True)
    policy.minimum_notice_hours = 24 * 60  # the admin's save: nothing within 60 days online
    policy.save()
    response = _post(client, 12)
    assert response.status_code == 409
    assert not Appointment.objects.filter(start=DAY.replace(hour=12)).exists()


def test_a_location_policy_added_takes_effect_on_the_next_booking(client, location):
    assert _post(client, 10).status_code == 302
    BookingPolicyFactory(location=location, no_show_limit=1)
    missed = ClientFactory(email="missed@example.com")
    AppointmentFactory(client=missed, location=location, start=NOW - timedelta(days=3), status="no_show")
    response = _post(client, 12, email="missed@example.com")
    assert response.status_code == 400
    assert "call" in response.content.decode()


def test_a_clinic_taken_off_line_refuses_the_next_booking(client, location):
    assert _post(client, 10).status_code == 302
    location.is_active = False
    location.save()
    assert _post(client, 12).status_code == 400
    assert not Appointment.objects.filter(start=DAY.replace(hour=12)).exists()


def test_new_consent_wording_is_recorded_from_the_next_booking(client, location):
    assert _post(client, 10).status_code == 302
    wording = ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=2, effective_from=NOW)
    assert _post(client, 12).status_code == 302
    assert ConsentRecord.objects.get(client__email="sam12@example.com").wording == wording


def test_a_wording_that_takes_effect_later_comes_into_force_without_a_save(client, location):
    later = ConsentWordingFactory(
        kind=ConsentWording.Kind.HEALTH_DATA, version=2, effective_from=NOW + timedelta(hours=1)
    )
    assert _post(client, 10).status_code == 302
    assert ConsentRecord.objects.get(client__email="sam10@example.com").wording.version == 1
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        assert _post(client, 12).status_code == 302
    assert ConsentRecord.objects.get(client__email="sam12@example.com").wording == later


def test_a_change_committed_by_another_process_reaches_this_one_at_its_next_version_check(
    location, monkeypatch, django_capture_on_commit_callbacks
):
    clock = [1000.0]
    monkeypatch.setattr(booking_refdata.time, "monotonic", lambda: clock[0])
    assert booking_refdata.booking_policy(location).minimum_notice_hours == 12
    # Another process saves it: the row changes and, on its commit, the shared version moves;
    # this process's copy is not told.
    BookingPolicy.objects.filter(location__isnull=True).update(minimum_notice_hours=30)
    with django_capture_on_commit_callbacks(execute=True):
        cache.set(booking_refdata.VERSION_KEY, "another process's bump", timeout=None)
    clock[0] += booking_refdata.VERSION_CHECK_SECONDS / 2
    assert booking_refdata.booking_policy(location).minimum_notice_hours == 12  # within the second
    clock[0] += booking_refdata.VERSION_CHECK_SECONDS
    assert booking_refdata.booking_policy(location).minimum_notice_hours == 30


def test_a_change_that_sends_no_signal_reaches_the_copy_within_its_longest_age(location, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(booking_refdata.time, "monotonic", lambda: clock[0])
    booking_refdata.refdata_clear()
    assert booking_refdata.booking_policy(location).minimum_notice_hours == 12
    BookingPolicy.objects.filter(location__isnull=True).update(minimum_notice_hours=30)  # no signal, no bump
    clock[0] += booking_refdata.VERSION_CHECK_SECONDS * 2
    assert booking_refdata.booking_policy(location).minimum_notice_hours == 12
    clock[0] += booking_refdata.MAX_AGE_SECONDS
    assert booking_refdata.booking_policy(location).minimum_notice_hours == 30


def test_a_save_bumps_the_shared_version_when_it_commits(location, django_capture_on_commit_callbacks):
    booking_refdata.booking_policy(location)
    before = cache.get(booking_refdata.VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        location.name = "Manchester Clinic"
        location.save()
    assert cache.get(booking_refdata.VERSION_KEY) != before


def test_callers_get_copies_so_one_request_cannot_change_anothers_rows(location):
    first = booking_refdata.location_by_slug("manchester")
    first.name = "changed by a request"
    assert booking_refdata.location_by_slug("manchester").name != "changed by a request"


def test_unknown_slugs_are_not_kept(client, location):
    assert _post(client, 10, location="nowhere").status_code == 400
    assert booking_refdata.location_by_slug("nowhere") is None
    assert ("location", "nowhere") not in booking_refdata._store.entries
