"""Ten claims of one waiting-list offer at once give exactly one booking (PostgreSQL).

Each claim is a whole request on its own thread with its own database connection (Django's
connections are per thread), as in test_booking_concurrency: middleware, form, service, template.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.urls import reverse

from bookings.models import Appointment, ClientMessage, WaitlistEntry, WaitlistOffer, WaitlistRelease
from bookings.services.waitlist import waitlist_release_offer
from bookings.tests.factories import BookingPolicyFactory, LocationFactory, WaitlistEntryFactory, technician_working
from bookings.tokens import waitlist_offer_token_make
from clients.models import ConsentWording
from clients.tests.factories import ConsentWordingFactory

pytestmark = pytest.mark.django_db(transaction=True)
CLAIMS = 10


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def _claim(url: str, barrier: threading.Barrier) -> tuple[int, str]:
    try:
        client = Client()
        barrier.wait(timeout=60)
        response = client.post(url, {"health_consent": "on"})
        return response.status_code, response.content.decode()
    finally:
        connections.close_all()


def _race(urls: list[str]) -> list[tuple[int, str]]:
    barrier = threading.Barrier(len(urls))
    results: list[tuple[int, str]] = [None] * len(urls)  # type: ignore[list-item]

    def run(n: int) -> None:
        results[n] = _claim(urls[n], barrier)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


@pytest.fixture
def freed(frozen_now):
    """A freed time a week ahead, at a clinic with two technicians free then (so the booking
    engine alone would let two claims through: the offer's lock must stop the second)."""
    BookingPolicyFactory(minimum_notice_hours=12, change_notice_hours=24)
    ConsentWordingFactory(kind=ConsentWording.Kind.HEALTH_DATA, effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    location = LocationFactory(slug="race")
    technician_working(location=location)
    technician_working(location=location)
    day = frozen_now.date() + timedelta(days=7)
    start = datetime(day.year, day.month, day.day, 10, tzinfo=location.tz).astimezone(UTC)
    entries = [
        WaitlistEntryFactory(
            location=location,
            earliest_date=day - timedelta(days=1),
            latest_date=day + timedelta(days=1),
            email=f"waiting{n}@example.com",
            joined_at=frozen_now - timedelta(hours=CLAIMS - n),
        )
        for n in range(CLAIMS)
    ]
    release = waitlist_release_offer(location_id=location.pk, start=start)
    return release, entries


def _url(offer: WaitlistOffer) -> str:
    return reverse("bookings:waitlist_claim", args=[waitlist_offer_token_make(offer_id=offer.pk)])


def _assert_one_booking(results, release: WaitlistRelease) -> None:
    statuses = sorted(status for status, _ in results)
    assert statuses == [302] + [410] * (CLAIMS - 1), statuses
    assert all("Sorry, that time has gone" in body for status, body in results if status == 410)
    assert Appointment.objects.filter(start=release.start, status__in=Appointment.ACTIVE_STATUSES).count() == 1
    release.refresh_from_db()
    assert release.status == WaitlistRelease.Status.CLAIMED
    assert release.offers.filter(status=WaitlistOffer.Status.CLAIMED).count() == 1


@pytest.mark.postgres
def test_ten_concurrent_claims_of_one_offer_give_exactly_one_booking(postgres, freed):
    release, entries = freed
    offer = release.offers.get(entry=entries[0])
    results = _race([_url(offer)] * CLAIMS)
    _assert_one_booking(results, release)
    assert WaitlistEntry.objects.get(pk=entries[0].pk).status == WaitlistEntry.Status.BOOKED


@pytest.mark.postgres
def test_ten_waiting_clients_claiming_at_once_give_one_booking_and_nine_sorry_messages(postgres, freed):
    release, entries = freed
    offers = list(release.offers.order_by("position"))
    assert [o.entry for o in offers] == entries  # offered in the order they joined
    results = _race([_url(o) for o in offers])
    _assert_one_booking(results, release)
    assert WaitlistEntry.objects.filter(status=WaitlistEntry.Status.BOOKED).count() == 1
    gone = ClientMessage.objects.filter(kind=ClientMessage.Kind.WAITLIST_GONE)
    assert gone.count() == CLAIMS - 1
    winner = WaitlistEntry.objects.get(status=WaitlistEntry.Status.BOOKED)
    assert not gone.filter(waitlist_entry=winner).exists()
