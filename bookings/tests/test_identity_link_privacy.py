"""The double opt-in link names no e-mail address: a signed token is base64 that anyone can read,
and its URL reaches access logs, Django's 404/410 warnings and browser histories."""

from __future__ import annotations

import base64
import logging
import zlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import signing
from django.urls import reverse

from bookings.tests.factories import AppointmentFactory
from bookings.tokens import IDENTITY_SALT, identity_token_load, identity_token_make
from clients.models import Client
from clients.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
EMAIL = "Sam.Taylor@Example.com"


def _readable(token: str) -> str:
    """What anyone holding the link can read without the secret key."""
    body = token.split(":")[0]
    compressed = body.startswith(".")
    raw = base64.urlsafe_b64decode(body.lstrip(".") + "=" * (-len(body.lstrip(".")) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


@pytest.fixture
def pending():
    """An online booking under Sam's address, waiting for the address's owner to confirm."""
    with time_machine.travel(NOW, tick=False):
        sam = ClientFactory(first_name="Sam", email=EMAIL)
        provisional = ClientFactory(email=EMAIL, match_of=sam, match_status=Client.MatchStatus.PENDING)
        appointment = AppointmentFactory(client=provisional, start=NOW + timedelta(days=10))
    return sam, appointment


def test_the_confirmation_link_does_not_carry_the_address(pending):
    _, appointment = pending
    token = identity_token_make(appointment=appointment, marketing_opt_in=True)

    readable = _readable(token).lower()

    assert "sam.taylor" not in readable
    assert "example.com" not in readable
    assert identity_token_load(token).names_address(EMAIL.upper())
    assert not identity_token_load(token).names_address("someone.else@example.com")


def test_an_expired_link_logs_no_address(client, pending, caplog):
    _, appointment = pending
    with time_machine.travel(NOW, tick=False):
        url = reverse(
            "bookings:identity_confirm", args=[identity_token_make(appointment=appointment, marketing_opt_in=True)]
        )
    with time_machine.travel(NOW + timedelta(days=8), tick=False), caplog.at_level(logging.DEBUG):
        assert client.get(url).status_code == 410

    logged = [r.getMessage() for r in caplog.records if "/book/confirm/" in r.getMessage()]
    assert logged  # Django's warning names the path, token and all...
    token = logged[0].split("/book/confirm/")[1].split("/")[0]
    readable = (logged[0] + _readable(token)).lower()
    assert "sam.taylor" not in readable  # ...which names nobody, even decoded
    assert "example.com" not in readable


def test_the_owner_confirming_still_merges_the_booking_into_their_record(client, pending):
    sam, appointment = pending
    with time_machine.travel(NOW, tick=False):
        url = reverse(
            "bookings:identity_confirm", args=[identity_token_make(appointment=appointment, marketing_opt_in=True)]
        )
        assert client.post(url).status_code == 200

    sam.refresh_from_db()
    assert list(sam.appointments.all()) == [appointment]
    assert sam.marketing_email_opt_in is True


def test_a_link_sent_before_the_change_still_confirms(client, pending):
    sam, appointment = pending
    payload = {"a": appointment.pk, "r": appointment.reference, "c": appointment.client_id, "e": EMAIL, "m": 1}
    with time_machine.travel(NOW, tick=False):
        old = signing.dumps(payload, salt=IDENTITY_SALT, compress=True)
        assert client.post(reverse("bookings:identity_confirm", args=[old])).status_code == 200

    sam.refresh_from_db()
    assert list(sam.appointments.all()) == [appointment]
