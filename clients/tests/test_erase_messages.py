from __future__ import annotations

import pytest

from bookings.models import ClientMessage
from bookings.services.erasure import client_erase
from bookings.tests.factories import ClientMessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_erasing_a_client_cancels_every_pending_message_at_once():
    day4 = ClientMessageFactory(kind=ClientMessage.Kind.AFTERCARE_DAY_4)
    client = day4.appointment.client
    reminder = ClientMessageFactory(appointment__client=client, kind=ClientMessage.Kind.REMINDER_48H)
    other = ClientMessageFactory()

    client_erase(client=client, by=UserFactory(is_superuser=True))

    day4.refresh_from_db()
    reminder.refresh_from_db()
    other.refresh_from_db()
    assert (day4.status, reminder.status) == ("cancelled", "cancelled")
    assert other.status == "pending"
