"""online_book writes without savepoints: what the database refuses rolls the whole attempt back,
and the service retries it (the address taken a moment ago, a repeated reference) or answers it
(an overlap: SlotTaken with other times), leaving nothing of the failed attempt behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from bookings.models import Appointment
from bookings.selectors import ContactOnRecord
from bookings.services import booking as booking_service
from bookings.services.booking import SlotTaken, online_consultation_book
from bookings.tests.factories import AppointmentFactory, BookingPolicyFactory, LocationFactory, technician_working
from clients.models import AuditEvent, Client, ConsentRecord, ConsentWording
from clients.tests.factories import ClientFactory, ConsentWordingFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
START = datetime(2026, 12, 1, 10, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def location():
    BookingPolicyFactory(minimum_notice_hours=12, buffer_after_minutes=15)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, version=1, effective_from=NOW - timedelta(days=30))
    location = LocationFactory(slug="leeds")
    technician_working(location=location)
    return location


def _book(location, *, email="sam@example.com", start=START) -> Appointment:
    return online_consultation_book(
        location=location,
        start=start,
        treatment=None,
        first_name="Sam",
        last_name="Taylor",
        email=email,
        phone="07700 900123",
        date_of_birth=None,
        description="",
        health_consent=True,
        marketing_opt_in=False,
    )


def test_an_address_taken_between_the_read_and_the_insert_makes_the_retry_a_possible_match(location, monkeypatch):
    holder = ClientFactory(email="Sam@Example.com")
    real = booking_service.contact_on_record
    reads = []

    def racing(*, email, phone):
        # The first read runs before the other booking commits its client: no holder yet.
        reads.append(email)
        return ContactOnRecord(holder_id=None, client_ids=()) if len(reads) == 1 else real(email=email, phone=phone)

    monkeypatch.setattr(booking_service, "contact_on_record", racing)
    appointment = _book(location)
    assert len(reads) == 2  # the unique index refused the first attempt; the second found the holder
    client = appointment.client
    assert client.match_of == holder
    assert client.match_status == Client.MatchStatus.PENDING
    assert Client.objects.filter(email__iexact="sam@example.com").count() == 2
    assert AuditEvent.objects.filter(object_type="client", object_id=str(client.pk)).count() == 1
    assert ConsentRecord.objects.count() == 1


def test_a_repeated_reference_is_drawn_again_in_a_fresh_attempt(location, monkeypatch):
    technician = location.technicians.get()
    AppointmentFactory(
        technician=technician, location=location, start=START + timedelta(hours=5), reference="SMP-22222"
    )
    drawn = iter(["SMP-22222", "SMP-33333"])
    monkeypatch.setattr(Appointment._meta.get_field("reference"), "_get_default", lambda: next(drawn))
    appointment = _book(location)
    assert appointment.reference == "SMP-33333"
    assert Client.objects.filter(email="sam@example.com").count() == 1
    assert AuditEvent.objects.filter(object_type="consentrecord").count() == 1


def test_an_overlap_the_database_refuses_is_slot_taken_with_nothing_left_behind(location, postgres, monkeypatch):
    technician = location.technicians.get()
    # Booked behind the service's back (as a staff edit might be), and a claim that misses it:
    # the exclusion constraint is the last word.
    AppointmentFactory(technician=technician, location=location, start=START)
    monkeypatch.setattr(booking_service, "_claim_technician", lambda **kwargs: technician)
    with pytest.raises(SlotTaken) as taken:
        _book(location)
    assert taken.value.alternatives
    assert all(slot.start != START for slot in taken.value.alternatives)
    assert not Client.objects.filter(email="sam@example.com").exists()
    assert not ConsentRecord.objects.exists()
    assert not AuditEvent.objects.filter(object_type__in=["client", "consentrecord"]).exists()
    assert Appointment.objects.filter(technician=technician).count() == 1


def test_a_time_just_taken_offers_other_times_found_after_the_locks_are_released(location, monkeypatch):
    technician = location.technicians.get()
    AppointmentFactory(technician=technician, location=location, start=START)
    real = booking_service._alternatives
    depth = []

    def spy(**kwargs):
        # Inside online_book's transaction there is one more savepoint than around the call.
        depth.append(len(connection.savepoint_ids))
        return real(**kwargs)

    monkeypatch.setattr(booking_service, "_alternatives", spy)
    around = len(connection.savepoint_ids)
    with pytest.raises(SlotTaken) as taken:
        _book(location)
    assert depth == [around]
    assert taken.value.alternatives
    assert not Client.objects.filter(email="sam@example.com").exists()
