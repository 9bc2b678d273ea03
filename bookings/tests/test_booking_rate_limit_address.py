"""The booking form's rate limit counts per client address: REMOTE_ADDR, or the trusted proxy's
header only when DJANGO_TRUSTED_PROXY_HEADER names one (bookings.network, shared with the staff
login lockout), and its 429 page says what happened without repeating anything the client typed."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from bookings.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db
BOOK = reverse("bookings:book")
PROXY = "10.0.0.5"
TYPED = {
    "first_name": "Philippa",
    "last_name": "Quennell",
    "email": "philippa.quennell@example.com",
    "phone": "07700 900456",
    "description": "Thinning at the crown.",
}


@pytest.fixture(autouse=True)
def _fresh_limits(settings):
    settings.BOOKING_RATE_LIMIT_PER_IP = 2
    cache.clear()
    yield
    cache.clear()


def attempt(client, *, forwarded: str | None = None, **extra):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    # Not a bookable request (no slot): it still counts, since the limit is checked first.
    return client.post(BOOK, {"location": "nowhere", "website": "", **extra}, REMOTE_ADDR=PROXY, **headers)


def test_without_a_trusted_header_a_forged_forwarded_for_does_not_dodge_the_limit(client, settings):
    settings.TRUSTED_PROXY_HEADER = ""
    assert attempt(client, forwarded="198.51.100.1").status_code == 400
    assert attempt(client, forwarded="198.51.100.2").status_code == 400
    assert attempt(client, forwarded="198.51.100.3").status_code == 429


def test_behind_the_trusted_proxy_each_client_has_its_own_limit(client, settings):
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    for _ in range(2):
        assert attempt(client, forwarded="203.0.113.7").status_code == 400
    assert attempt(client, forwarded="203.0.113.7").status_code == 429
    # Another client behind the same proxy is not held back by the first one's attempts.
    assert attempt(client, forwarded="203.0.113.8").status_code == 400


def test_behind_the_trusted_proxy_the_right_most_entry_counts(client, settings):
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    # The client writes whatever it likes on the left; the proxy appends the real address.
    assert attempt(client, forwarded="1.1.1.1, 203.0.113.7").status_code == 400
    assert attempt(client, forwarded="2.2.2.2, 203.0.113.7").status_code == 400
    assert attempt(client, forwarded="3.3.3.3, 203.0.113.7").status_code == 429


def test_a_missing_or_garbled_trusted_header_falls_back_to_the_connection(client, settings):
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    assert attempt(client).status_code == 400
    assert attempt(client, forwarded="not-an-address").status_code == 400
    assert attempt(client, forwarded="").status_code == 429


def test_the_429_page_is_clear_and_repeats_nothing_the_client_typed(client):
    LocationFactory(slug="leeds", name="Leeds")
    for _ in range(2):
        attempt(client, **TYPED)
    response = attempt(client, **{**TYPED, "location": "leeds"})
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    html = response.content.decode()
    assert "Too many booking attempts" in html
    assert "try again in an hour" in html
    assert "call the clinic" in html
    for value in TYPED.values():
        assert value not in html
    assert "900456" not in html
    assert PROXY not in html
